//go:build linux || darwin

package sys

import (
	"strings"

	"golang.org/x/sys/unix"
)

// Path resolution.
//
// A guest path is always relative to a directory descriptor and can never
// name anything outside it: ".." at the top, absolute paths and symlinks
// (absolute or relative) that would leave the starting directory are
// refused, and a symlink swapped in concurrently cannot win a race.
// Symlinks that stay inside are followed. resolveBeneath is the one walk,
// per system: openat2 with RESOLVE_BENEATH on Linux (path_linux.go), a walk
// of one O_NOFOLLOW openat per component elsewhere (path_darwin.go).
//
// Operations that have no such form (mkdirat, unlinkat, renameat,
// linkat, symlinkat, readlinkat, fstatat and utimensat without following)
// open the parent directory that way and act on the last component
// alone, which is a single name that cannot be "." or "..", so it cannot
// leave the parent either.
//
// Errnos: an escape and an absolute path are ENOTCAPABLE, which is what
// wasmtime and uvwasi give for capability violations; a symlink loop is
// ELOOP; an empty path is ENOENT; a path with a NUL byte is EINVAL.

// parent is a path split for an *at call: fd is the directory holding the
// last component name. Close releases fd when it was opened for the split.
type parent struct {
	fd    int
	name  string
	owned bool
	// trailingSlash is set when the guest path ended in '/' (keepSlash
	// has applied the POSIX trailing-slash rules, per system).
	trailingSlash bool
}

func (p parent) Close() {
	if p.owned {
		unix.Close(p.fd)
	}
}

// openParent resolves all but the last component of path beneath dirfd.
// A last component of "." or ".." (after any trailing slashes) is resolved
// as a whole, and the result names the directory itself as ".", so
// mkdir("a/..") is EEXIST and rmdir("..") is EINVAL without anything
// outside dirfd ever being touched.
func openParent(dirfd int, path string) (parent, Errno) {
	if errno := checkPath(path); errno != 0 {
		return parent{}, errno
	}
	trimmed := strings.TrimRight(path, "/")
	if trimmed == "" { // only slashes: absolute
		return parent{}, ENOTCAPABLE
	}
	slash := len(trimmed) < len(path)
	dir, name := "", trimmed
	if i := strings.LastIndexByte(trimmed, '/'); i >= 0 {
		dir, name = trimmed[:i+1], trimmed[i+1:]
	}
	if name == "." || name == ".." {
		fd, errno := resolveBeneath(dirfd, trimmed, oPath|unix.O_DIRECTORY, 0)
		if errno != 0 {
			return parent{}, errno
		}
		return parent{fd: fd, name: ".", owned: true}, ESUCCESS
	}
	p := parent{fd: dirfd, name: name, trailingSlash: slash}
	if dir != "" {
		fd, errno := resolveBeneath(dirfd, dir, oPath|unix.O_DIRECTORY, 0)
		if errno != 0 {
			return parent{}, errno
		}
		p.fd, p.owned = fd, true
	}
	if slash {
		if errno := p.keepSlash(); errno != 0 {
			p.Close()
			return parent{}, errno
		}
	}
	return p, ESUCCESS
}

// Open opens a file beneath a directory and returns the new guest fd.
//
// The host open mode follows the requested rights: FD_WRITE asks for write
// access, FD_READ or FD_READDIR for read access, O_RDONLY when neither. A
// directory opened with write access is EISDIR (what Go's wasip1 os package
// expects before retrying read-only). The new descriptor's rights are the
// requested ones plus every right of the opened file's type other than
// FD_READ and FD_WRITE (which follow the open mode), narrowed to what dir may
// hand out (its inheriting rights) and to what the type can carry; asking
// for more is not an error. Granting the non-data rights whatever was asked
// matches wasmtime and wazero, which ignore requested rights: Rust's std
// opens directories without PATH_FILESTAT_SET_TIMES, for one, and then uses
// it. It grants nothing new: dir already had those rights over the file.
// A directory's inheriting rights are granted the same way (the requested
// ones plus every non-data right, narrowed to dir's), so that a file has the
// same rights whichever directory it is reached from, as through a hard link
// in another one (wasi-testsuite's path_link compares them): only
// fd_fdstat_set_rights and a read-only preopen narrow them, for everything
// beneath. Without LookupSymlinkFollow the last component must not be a
// symlink (ELOOP), as with O_NOFOLLOW. NONBLOCK is passed to the host open
// (so opening a FIFO does not hang the host) and then emulated like
// fd_fdstat_set_flags does for everything but sockets.
func (s *System) Open(req OpenRequest) (int32, Errno) {
	dir, read, write, errno := s.openDir(req)
	if errno != 0 {
		return -1, errno
	}
	flags := unix.O_RDONLY
	switch {
	case read && write:
		flags = unix.O_RDWR
	case write:
		flags = unix.O_WRONLY
	}
	for _, m := range []struct {
		o Oflags
		f int
	}{{OflagCreat, unix.O_CREAT}, {OflagDirectory, unix.O_DIRECTORY}, {OflagExcl, unix.O_EXCL}, {OflagTrunc, unix.O_TRUNC}} {
		if req.Oflags&m.o != 0 {
			flags |= m.f
		}
	}
	for _, m := range []struct {
		o Fdflags
		f int
	}{{FdflagAppend, unix.O_APPEND}, {FdflagDsync, unix.O_DSYNC}, {FdflagNonblock, unix.O_NONBLOCK}, {FdflagRsync, oRsync}, {FdflagSync, unix.O_SYNC}} {
		if req.Fdflags&m.o != 0 {
			flags |= m.f
		}
	}
	if req.Lookup&LookupSymlinkFollow == 0 {
		flags |= unix.O_NOFOLLOW
	}

	fd, errno := resolveBeneath(dir.Fd, req.Path, flags, 0o666)
	if errno != 0 {
		return -1, errno
	}
	if write && kernelFS(fd) {
		// Wherever it is reached from: written, /proc/self/mem is the
		// host process's own memory, /proc/sys and /sys the host's
		// settings. Opening it had no effect; the guest gets nothing.
		unix.Close(fd)
		return -1, EROFS
	}
	t, err := HostFiletype(fd)
	if err != nil {
		unix.Close(fd)
		return -1, ErrnoFromError(err)
	}
	if req.Fdflags&FdflagNonblock != 0 && t != FiletypeSocketStream && t != FiletypeSocketDgram {
		// O_NONBLOCK was only for the open itself (a FIFO without a
		// peer); for reads and writes it is emulated, like everywhere
		// else, so that fd_fdstat_set_flags can clear it.
		if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err == nil {
			unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl&^unix.O_NONBLOCK)
		}
	}
	f := opened(dir, req, t, read, write)
	f.Fd = fd
	return s.FDs.Insert(f), ESUCCESS
}

// CreateDirectory makes a directory (mkdirat, mode 0777 less umask).
func (s *System) CreateDirectory(dirfd int32, path string) Errno {
	return s.atParent(dirfd, RightPathCreateDirectory, path, func(p parent) error {
		return unix.Mkdirat(p.fd, p.name, 0o777)
	})
}

// RemoveDirectory removes an empty directory (unlinkat AT_REMOVEDIR).
func (s *System) RemoveDirectory(dirfd int32, path string) Errno {
	return s.atParent(dirfd, RightPathRemoveDirectory, path, func(p parent) error {
		return unix.Unlinkat(p.fd, p.name, unix.AT_REMOVEDIR)
	})
}

// UnlinkFile removes a non-directory (unlinkat); a directory is EISDIR.
func (s *System) UnlinkFile(dirfd int32, path string) Errno {
	return s.atParent(dirfd, RightPathUnlinkFile, path, func(p parent) error {
		return unix.Unlinkat(p.fd, p.name, 0)
	})
}

// Symlink creates a symlink at path holding target. The target is stored
// as given (it is resolved beneath a directory only when used).
func (s *System) Symlink(target string, dirfd int32, path string) Errno {
	if target == "" {
		return ENOENT
	}
	if strings.IndexByte(target, 0) >= 0 {
		return EINVAL
	}
	return s.atParent(dirfd, RightPathSymlink, path, func(p parent) error {
		return unix.Symlinkat(target, p.fd, p.name)
	})
}

// Readlink reads the target of the symlink at path into buf and returns
// how many bytes it copied; a longer target is truncated to len(buf).
func (s *System) Readlink(dirfd int32, path string, buf []byte) (n int, errno Errno) {
	errno = s.atParent(dirfd, RightPathReadlink, path, func(p parent) error {
		tmp := make([]byte, unix.PathMax)
		m, err := unix.Readlinkat(p.fd, p.name, tmp)
		if err != nil {
			return err
		}
		n = copy(buf, tmp[:m])
		return nil
	})
	return n, errno
}

// Rename moves oldPath beneath oldDir to newPath beneath newDir (renameat).
func (s *System) Rename(oldDir int32, oldPath string, newDir int32, newPath string) Errno {
	od, nd, errno := s.dirPair(oldDir, RightPathRenameSource, newDir, RightPathRenameTarget)
	if errno != 0 {
		return errno
	}
	op, errno := openParent(od.Fd, oldPath)
	if errno != 0 {
		return errno
	}
	defer op.Close()
	np, errno := openParent(nd.Fd, newPath)
	if errno != 0 {
		return errno
	}
	defer np.Close()
	return ErrnoFromError(unix.Renameat(op.fd, op.name, np.fd, np.name))
}

// Link makes newPath beneath newDir a hard link to oldPath beneath oldDir.
// With LookupSymlinkFollow a final symlink in oldPath is followed, beneath
// oldDir like every other walk (linkFollow), never by letting linkat
// follow it.
func (s *System) Link(oldDir int32, lookup Lookupflags, oldPath string, newDir int32, newPath string) Errno {
	od, nd, errno := s.dirPair(oldDir, RightPathLinkSource, newDir, RightPathLinkTarget)
	if errno != 0 {
		return errno
	}
	if lookup&^LookupSymlinkFollow != 0 {
		return EINVAL
	}
	np, errno := openParent(nd.Fd, newPath)
	if errno != 0 {
		return errno
	}
	defer np.Close()
	if lookup&LookupSymlinkFollow != 0 {
		return linkFollow(od.Fd, oldPath, np)
	}
	op, errno := openParent(od.Fd, oldPath)
	if errno != 0 {
		return errno
	}
	defer op.Close()
	if op.trailingSlash {
		// linkat would follow a symlink named with a trailing slash; only
		// directories may be named so, and they cannot be hard linked.
		return EPERM
	}
	return ErrnoFromError(unix.Linkat(op.fd, op.name, np.fd, np.name, 0))
}

// atParent runs fn on path split at its last component beneath dirfd.
func (s *System) atParent(dirfd int32, r Rights, path string, fn func(parent) error) Errno {
	d, errno := s.dirFile(dirfd, r)
	if errno != 0 {
		return errno
	}
	p, errno := openParent(d.Fd, path)
	if errno != 0 {
		return errno
	}
	defer p.Close()
	for {
		err := fn(p)
		if err == unix.EINTR {
			continue
		}
		return ErrnoFromError(err)
	}
}

// PathFilestat stats path beneath dirfd; with LookupSymlinkFollow a final
// symlink is followed (beneath dirfd), otherwise the link itself is stat'ed.
func (s *System) PathFilestat(dirfd int32, lookup Lookupflags, path string) (Filestat, Errno) {
	d, errno := s.dirFile(dirfd, RightPathFilestatGet)
	if errno != 0 {
		return Filestat{}, errno
	}
	var st unix.Stat_t
	errno = atPath(d.Fd, lookup, path, func(fd int, name string, flags int) error {
		return unix.Fstatat(fd, name, &st, flags)
	})
	if errno != 0 {
		return Filestat{}, errno
	}
	return filestatFromStat(&st), ESUCCESS
}

// PathSetTimes sets the access and modification times of path beneath
// dirfd (utimensat), following a final symlink with LookupSymlinkFollow.
func (s *System) PathSetTimes(dirfd int32, lookup Lookupflags, path string, atim, mtim uint64, fst Fstflags) Errno {
	d, errno := s.dirFile(dirfd, RightPathFilestatSetTimes)
	if errno != 0 {
		return errno
	}
	ts, errno := timespecs(atim, mtim, fst)
	if errno != 0 {
		return errno
	}
	return atPath(d.Fd, lookup, path, func(fd int, name string, flags int) error {
		return unix.UtimesNanoAt(fd, name, ts, flags)
	})
}

// atPath calls fn with a (directory, name, flags) triple naming path beneath
// dirfd for an fstatat-like call. Following symlinks, or a path ending in
// '/' (which makes the kernel follow), is atPathFollow's (per system);
// otherwise the parent is opened and fn gets AT_SYMLINK_NOFOLLOW.
func atPath(dirfd int, lookup Lookupflags, path string, fn func(fd int, name string, flags int) error) Errno {
	if lookup&^LookupSymlinkFollow != 0 {
		return EINVAL
	}
	if lookup&LookupSymlinkFollow != 0 || strings.HasSuffix(path, "/") {
		return atPathFollow(dirfd, path, fn)
	}
	p, errno := openParent(dirfd, path)
	if errno != 0 {
		return errno
	}
	defer p.Close()
	return ErrnoFromError(fn(p.fd, p.name, unix.AT_SYMLINK_NOFOLLOW))
}
