package oci

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/internal/initproc"
	"github.com/wasmrun/wasmrun/internal/liveness"
)

// containerMounts is the mount configuration for spec with root at root
// and the given preopens, which the container process mounts
// (initproc.Mounts). Paths of readonlyPaths and maskedPaths resolve
// beneath the root (a symlink cannot lead out of it); those that do not
// exist are skipped, as runc does.
func containerMounts(root string, spec *specs.Spec, preopens []Preopen) (*initproc.Mounts, error) {
	m := &initproc.Mounts{}
	for _, p := range preopens {
		if p.ReadOnly {
			m.ReadOnly = append(m.ReadOnly, p.HostPath)
		}
	}
	if spec.Linux == nil {
		return m, nil
	}
	for _, list := range []struct {
		paths []string
		out   *[]string
	}{{spec.Linux.ReadonlyPaths, &m.ReadOnly}, {spec.Linux.MaskedPaths, &m.Masked}} {
		for _, p := range list.paths {
			host, err := resolveInRoot(root, p)
			if err != nil {
				return nil, fmt.Errorf("path %s of the spec: %w", p, err)
			}
			if _, err := os.Lstat(host); errors.Is(err, os.ErrNotExist) {
				continue
			}
			*list.out = append(*list.out, host)
		}
	}
	return m, nil
}

// tmpfsMounts are the spec's tmpfs mounts the guest can use (not /dev,
// /proc or /sys, which it has no use for): each is a tmpfs the container
// process mounts, in its own mount namespace, on a directory of the
// container's state dir, which the guest gets as a preopen at the mount's
// destination. Of the mount's options, the tmpfs ones (size, mode,
// nr_inodes, nr_blocks, uid, gid) and ro count; it is always nosuid,
// nodev and noexec. It makes nothing: Create makes the directories.
func tmpfsMounts(stateDir string, spec *specs.Spec) ([]initproc.Tmpfs, []Preopen) {
	var mounts []initproc.Tmpfs
	var preopens []Preopen
	for _, m := range spec.Mounts {
		if m.Type != "tmpfs" || !filepath.IsAbs(m.Destination) {
			continue
		}
		dst := filepath.Clean(m.Destination)
		if dst == "/dev" || slices.ContainsFunc([]string{"/dev/pts", "/dev/mqueue", "/proc", "/sys"}, func(p string) bool {
			return dst == p || strings.HasPrefix(dst, p+"/")
		}) {
			continue
		}
		var data []string
		ro := false
		for _, o := range m.Options {
			key, _, _ := strings.Cut(o, "=")
			switch {
			case o == "ro":
				ro = true
			case slices.Contains([]string{"size", "mode", "nr_inodes", "nr_blocks", "uid", "gid"}, key) && strings.Contains(o, "=") && !strings.Contains(o, ","):
				data = append(data, o)
			}
		}
		dir := filepath.Join(stateDir, "tmpfs", strconv.Itoa(len(mounts)))
		mounts = append(mounts, initproc.Tmpfs{Path: dir, Data: strings.Join(data, ","), ReadOnly: ro})
		preopens = append(preopens, Preopen{HostPath: dir, GuestPath: dst, ReadOnly: ro})
	}
	return mounts, preopens
}

// A sharedDir is a directory passed to a container process as a
// descriptor, which it has as a preopen (initproc.Shared).
type sharedDir struct {
	dir       *os.File
	guestPath string
	readOnly  bool
}

// sharedTmpfs opens the spec's tmpfs mounts of container id as its
// process has them, through that process's root, for an exec process
// (initproc.Shared): they are mounts of the process's own namespace
// (tmpfsMounts). The path is resolved in that root without following a
// link, and what it opens must be a tmpfs of the process while it still
// runs; else the exec fails, rather than give the guest a directory of
// the container's state on the host.
func (r *Runtime) sharedTmpfs(id string, st *stateFile, spec *specs.Spec) (_ []sharedDir, err error) {
	_, preopens := tmpfsMounts(r.dir(id), spec)
	if len(preopens) == 0 {
		return nil, nil
	}
	var shared []sharedDir
	defer func() {
		if err != nil {
			for _, d := range shared {
				d.dir.Close()
			}
		}
	}()
	root, err := unix.Open("/proc/"+strconv.Itoa(st.Pid)+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("the container process's root: %w", err)
	}
	defer unix.Close(root)
	for _, p := range preopens {
		fd, err := unix.Openat2(root, strings.TrimPrefix(p.HostPath, "/"), &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err != nil {
			return nil, fmt.Errorf("tmpfs mount %s of the container process: %w", p.GuestPath, err)
		}
		dir := os.NewFile(uintptr(fd), p.HostPath)
		var fs unix.Statfs_t
		if err := unix.Fstatfs(fd, &fs); err != nil || fs.Type != unix.TMPFS_MAGIC {
			dir.Close()
			return nil, fmt.Errorf("tmpfs mount %s: the container process has no tmpfs at %s (%v)", p.GuestPath, p.HostPath, err)
		}
		shared = append(shared, sharedDir{dir: dir, guestPath: p.GuestPath, readOnly: p.ReadOnly})
	}
	// Opened in the root of the process the state records, not of one
	// that got its pid since.
	if !liveness.Alive(st.Pid, st.PidTime) {
		return nil, fmt.Errorf("container process %d exited: %w", st.Pid, ErrFailedPrecondition)
	}
	return shared, nil
}
