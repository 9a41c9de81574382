package initproc

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/wasmrun/wasmrun/internal/nest"
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
// anything opens a preopen; dirs are the guest's directories (their host
// paths).
func (m *Mounts) setup(dirs []string) error {
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
		if err := bindReadOnly(p, dirs); err != nil {
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
// makes all of them read-only. p is resolved as the guest's preopen of it
// is (openPreopen): what is made read-only is what the guest gets.
func bindReadOnly(p string, dirs []string) error {
	fd, _, err := openPreopen(p, dirs, 0)
	if err != nil {
		return fmt.Errorf("read-only %s: %w", p, err)
	}
	defer unix.Close(fd)
	tree, err := unix.OpenTree(fd, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE|unix.AT_EMPTY_PATH)
	if err != nil {
		return fmt.Errorf("read-only %s: bind: %w", p, err)
	}
	defer unix.Close(tree)
	err = unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY})
	if err == nil {
		err = unix.MoveMount(tree, "", fd, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
	}
	if err != nil {
		return fmt.Errorf("read-only %s: %w", p, err)
	}
	return nil
}

// spelledWithin reports whether path p, as written, is beneath another of
// dirs as written: in the private root, it is then there through that
// one. (Within another by the directories themselves, but spelled apart,
// it is bound at its own path, in the root's own directories.)
func spelledWithin(p string, dirs []string) bool {
	p = filepath.Clean(p)
	for _, d := range dirs {
		if r, err := filepath.Rel(filepath.Clean(d), p); err == nil && r != "." && filepath.IsLocal(r) {
			return true
		}
	}
	return false
}

// openPreopen opens p (O_PATH, and flags) as the guest's preopen of it is
// resolved: within the outermost of dirs its path passes through (see
// package nest), where a guest may have put links, with no link leading
// out of that one (RESOLVE_BENEATH); as it is otherwise. nested says
// which.
func openPreopen(p string, dirs []string, flags int) (fd int, nested bool, err error) {
	flags |= unix.O_PATH | unix.O_CLOEXEC
	outer, rel := nest.Within(append([]string{p}, dirs...), 0)
	if outer == "" {
		fd, err = unix.Open(p, flags, 0)
		return fd, false, err
	}
	o, err := unix.Open(outer, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, true, err
	}
	defer unix.Close(o)
	fd, err = unix.Openat2(o, rel, &unix.OpenHow{Flags: uint64(flags), Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		if errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ELOOP) {
			return -1, true, fmt.Errorf("a link on the way leads out of %s, another of the guest's directories, or is absolute (a guest may have put it there; give the real path)", outer)
		}
		return -1, true, fmt.Errorf("within %s, another of the guest's directories: %w", outer, err)
	}
	return fd, true, nil
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
// process may still mount. A directory within another one must be
// reached without a link that leads out of that one (openPreopen: the
// guest may have put the link there), else it is an error; written beneath
// it, it is not bound again (it is there, through the one that holds it).
//
// check, if not nil, judges each directory bound (its path, and the
// descriptor bound, as /proc/self/fd/N): what is bound is what was
// judged, whatever changed on the way since the creator looked.
func (m *Mounts) enterPrivateRoot(dirs, files []string, check func(path, fdPath string) error) error {
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
	for _, p := range files {
		if p == "" {
			continue
		}
		if fd, err := unix.Open(p, unix.O_PATH|unix.O_CLOEXEC, 0); err == nil {
			sources = append(sources, source{filepath.Clean("/" + p), fd, false})
		}
	}
	sorted := slices.Clone(dirs)
	slices.SortFunc(sorted, func(a, b string) int { return cmp.Compare(len(a), len(b)) })
	for _, p := range sorted {
		fd, nested, err := openPreopen(p, dirs, unix.O_DIRECTORY)
		switch {
		case nested && err != nil:
			return fmt.Errorf("private root: %s: %w", p, err)
		case nested && spelledWithin(p, dirs):
			// There already, through the directory that holds it (its
			// mounts, read-only ones too, came along); bound again, its
			// mount point would be made through the guest's links.
			unix.Close(fd)
			continue
		case err != nil:
			continue
		}
		if check != nil {
			if err := check(p, "/proc/self/fd/"+strconv.Itoa(fd)); err != nil {
				unix.Close(fd)
				return err
			}
		}
		sources = append(sources, source{filepath.Clean("/" + p), fd, true})
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
		if err := bindAt(s.fd, at, s.dir); err != nil {
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
