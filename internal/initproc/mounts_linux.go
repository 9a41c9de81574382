package initproc

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// Read-only, enforced by the kernel. The WASI layer refuses every mutating
// call beneath a read-only preopen (EROFS) and opens its files read-only;
// the container process also gets a mount namespace of its own in which
// those directories are read-only bind mounts (recursively), so a bug in
// the WASI layer is still no write. linux.readonlyPaths get the same, and
// linux.maskedPaths are hidden: an empty read-only tmpfs over a directory,
// /dev/null over a file. Nothing of this propagates to the host.

// Mounts are what the container process mounts in its namespace, host
// paths all.
type Mounts struct {
	// Tmpfs are the spec's tmpfs mounts, each at a directory of the
	// container's state that the guest has as a preopen.
	Tmpfs    []Tmpfs  `json:"tmpfs,omitempty"`
	ReadOnly []string `json:"read_only,omitempty"`
	Masked   []string `json:"masked,omitempty"`
	// PrivateRoot: once set up, the process leaves the host's file
	// system for a root of its own (see enterPrivateRoot).
	PrivateRoot bool `json:"private_root,omitempty"`
}

// Empty reports whether there is nothing to mount (no mount namespace
// then: it costs a copy of the mount table).
func (m *Mounts) Empty() bool {
	return m == nil || len(m.Tmpfs)+len(m.ReadOnly)+len(m.Masked) == 0 && !m.PrivateRoot
}

// Tmpfs is a tmpfs to mount at Path (a directory of the container's
// state) with Data (its size, mode, ... options).
type Tmpfs struct {
	Path     string `json:"path"`
	Data     string `json:"data,omitempty"`
	ReadOnly bool   `json:"read_only,omitempty"`
}

// setup runs in the container process, in its own mount namespace, before
// anything opens a preopen.
func (m *Mounts) setup() error {
	if m.Empty() {
		return nil
	}
	// Nothing done here reaches the host's mount namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	// In this namespace only: they go with the process, and their pages
	// are charged to its memory cgroup.
	for _, t := range m.Tmpfs {
		flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
		if t.ReadOnly {
			flags |= unix.MS_RDONLY
		}
		if err := unix.Mount("tmpfs", t.Path, "tmpfs", flags, t.Data); err != nil {
			return fmt.Errorf("tmpfs mount %s (%s): %w", t.Path, t.Data, err)
		}
	}
	for _, p := range m.ReadOnly {
		if err := bindReadOnly(p); err != nil {
			return err
		}
	}
	for _, p := range m.Masked {
		if err := mask(p); err != nil {
			return err
		}
	}
	return nil
}

// bindReadOnly bind-mounts p on itself, with every mount beneath it, and
// makes all of them read-only.
func bindReadOnly(p string) error {
	if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("read-only %s: bind: %w", p, err)
	}
	err := unix.MountSetattr(unix.AT_FDCWD, p, unix.AT_RECURSIVE|unix.AT_SYMLINK_NOFOLLOW,
		&unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY})
	if err != nil {
		return fmt.Errorf("read-only %s: %w", p, err)
	}
	return nil
}

// mask hides p: an empty read-only tmpfs over a directory, /dev/null over
// anything else.
func mask(p string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	if fi.IsDir() {
		err = unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0")
	} else {
		err = unix.Mount("/dev/null", p, "", unix.MS_BIND, "")
	}
	if err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	return nil
}

// privateRootAt is where the new root is mounted before pivot_root makes
// it "/": a directory every host has, covered in this mount namespace only.
const privateRootAt = "/tmp"

// enterPrivateRoot makes the process's root a read-only tmpfs that holds
// only what it opens by path once set up, at their host paths: dirs (the
// guest's preopened directories, bound with the mounts beneath them, so
// read-only and masked ones stay so), files read-only (the resolver's,
// as they are now: a file the host replaces later is not followed; one
// that does not exist is left out), and its own /proc/self/fd (the
// WASI layer reaches its descriptors through it: links, Unix socket
// paths, the exec FIFO). The rest of the host's file system is gone from
// the process: one that escaped the WebAssembly sandbox, whatever user
// and capabilities the spec gives it, finds no host file to read or write
// beyond the guest's own directories (runc's pivot_root into the rootfs
// does the same for a native container). It runs after setup, while the
// process may still mount. A directory reached through a symlink inside
// another one bound before is bound at its real path, where the link
// leads (a link that leads there through other links outside the root is
// not followed: the open of that directory fails).
func (m *Mounts) enterPrivateRoot(dirs, files []string) error {
	if m == nil || !m.PrivateRoot {
		return nil
	}
	// What goes in is held open first: the tmpfs may cover where it is.
	// Files first: a directory bound over one of them shows the host's
	// own file there. Outer directories first: one inside another is
	// bound over the outer's copy. What does not exist is left out (the
	// guest's open of it then fails as it would have): nothing is made on
	// the host for it.
	type source struct {
		path string
		fd   int
		dir  bool
	}
	var sources []source
	defer func() {
		for _, s := range sources {
			unix.Close(s.fd)
		}
	}()
	dirs = slices.Clone(dirs)
	slices.SortFunc(dirs, func(a, b string) int { return cmp.Compare(len(a), len(b)) })
	for i, p := range append(slices.Clone(files), dirs...) {
		dir := i >= len(files)
		flags := unix.O_PATH | unix.O_CLOEXEC
		if dir {
			flags |= unix.O_DIRECTORY
		}
		if p == "" {
			continue
		}
		fd, err := unix.Open(p, flags, 0)
		if err != nil {
			continue
		}
		sources = append(sources, source{filepath.Clean("/" + p), fd, dir})
	}

	const flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	root := privateRootAt
	if err := unix.Mount("tmpfs", root, "tmpfs", flags, "size=64k,mode=0755"); err != nil {
		return fmt.Errorf("private root: %w", err)
	}
	fds := filepath.Join(root, "proc", "self", "fd")
	if err := os.MkdirAll(fds, 0o755); err != nil {
		return fmt.Errorf("private root: %w", err)
	}
	if err := unix.Mount("/proc/self/fd", fds, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("private root: /proc/self/fd: %w", err)
	}
	for _, s := range sources {
		at := filepath.Join(root, s.path)
		err := bindAt(s.fd, at, s.dir)
		if err != nil && s.dir {
			// A symlink in a directory bound before is in the way: the
			// directory is reached through it (--dir A --dir A/link).
			// Bound at its real path, it is where the host's link leads.
			if real, rerr := os.Readlink("/proc/self/fd/" + strconv.Itoa(s.fd)); rerr == nil && filepath.IsAbs(real) && real != s.path {
				at = filepath.Join(root, real)
				err = bindAt(s.fd, at, true)
			}
		}
		if err != nil {
			return fmt.Errorf("private root: %s: %w", s.path, err)
		}
		if !s.dir {
			err := unix.Mount("", at, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|flags, "")
			if err != nil {
				return fmt.Errorf("private root: %s: read-only: %w", s.path, err)
			}
		}
	}
	old := filepath.Join(root, ".old")
	if err := os.Mkdir(old, 0o700); err != nil {
		return fmt.Errorf("private root: %w", err)
	}
	if err := unix.PivotRoot(root, old); err != nil {
		return fmt.Errorf("private root: pivot_root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("private root: %w", err)
	}
	if err := unix.Unmount("/.old", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("private root: detach the host's: %w", err)
	}
	if err := os.Remove("/.old"); err != nil {
		return fmt.Errorf("private root: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|flags, ""); err != nil {
		return fmt.Errorf("private root: read-only: %w", err)
	}
	return nil
}

// bindAt binds what fd (O_PATH) is at at, a path in the tmpfs or in a
// directory bound there before: a directory with the mounts beneath it;
// the mount point is made when missing (in the tmpfs: a directory bound
// before holds what it holds on the host, and a file is never made or
// changed there).
func bindAt(fd int, at string, dir bool) error {
	if dir {
		if err := os.MkdirAll(at, 0o755); err != nil {
			return err
		}
	} else {
		if err := os.MkdirAll(filepath.Dir(at), 0o755); err != nil {
			return err
		}
		mp, err := os.OpenFile(at, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
		switch {
		case err == nil:
			mp.Close()
		case !errors.Is(err, os.ErrExist):
			return err
		}
	}
	flags := uintptr(unix.MS_BIND)
	if dir {
		flags |= unix.MS_REC
	}
	return unix.Mount("/proc/self/fd/"+strconv.Itoa(fd), at, "", flags, "")
}
