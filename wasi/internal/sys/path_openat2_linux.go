//go:build linux && !darwinemul

package sys

import "golang.org/x/sys/unix"

// Path resolution on Linux is openat2's (see path_unix.go); with the
// darwinemul build tag it is the walk macOS uses instead (path_emul_linux.go),
// so that every path test runs against the walk too:
// go test -tags darwinemul ./wasi/...

// oPath opens a descriptor that only names a file (for *at calls).
const oPath = unix.O_PATH

// openatRetries bounds retries of openat2 when the kernel reports EAGAIN
// (a concurrent rename while resolving "..") or EINTR.
const openatRetries = 64

// resolveBeneath opens path relative to dirfd with openat2(RESOLVE_BENEATH),
// which refuses an escape atomically with the walk.
// flags always gain O_CLOEXEC; mode is used only with O_CREAT.
func resolveBeneath(dirfd int, path string, flags int, mode uint32) (int, Errno) {
	if errno := checkPath(path); errno != 0 {
		return -1, errno
	}
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	}
	if flags&unix.O_CREAT != 0 { // openat2 refuses a mode otherwise
		how.Mode = uint64(mode)
	}
	for i := 0; ; i++ {
		fd, err := unix.Openat2(dirfd, path, &how)
		if (err == unix.EAGAIN || err == unix.EINTR) && i < openatRetries {
			continue
		}
		if err == unix.EXDEV {
			return -1, ENOTCAPABLE
		}
		if err != nil {
			return -1, ErrnoFromError(err)
		}
		return fd, ESUCCESS
	}
}

// keepSlash gives the last component its trailing '/' so the kernel applies
// POSIX trailing-slash rules.
func (p *parent) keepSlash() Errno {
	p.name += "/"
	return ESUCCESS
}

// atPathFollow opens the whole path O_PATH with openat2 and passes it to fn
// with AT_EMPTY_PATH.
func atPathFollow(dirfd int, path string, fn func(fd int, name string, flags int) error) Errno {
	fd, errno := resolveBeneath(dirfd, path, unix.O_PATH, 0)
	if errno != 0 {
		return errno
	}
	defer unix.Close(fd)
	return ErrnoFromError(fn(fd, "", unix.AT_EMPTY_PATH))
}

// linkFollow links oldPath beneath oldDir, a final symlink followed, to np:
// the source is opened with openat2 and linked through /proc/self/fd, never
// by letting linkat follow it.
func linkFollow(oldDir int, oldPath string, np parent) Errno {
	fd, errno := resolveBeneath(oldDir, oldPath, unix.O_PATH, 0)
	if errno != 0 {
		return errno
	}
	defer unix.Close(fd)
	return ErrnoFromError(unix.Linkat(unix.AT_FDCWD, procFdPath(fd), np.fd, np.name, unix.AT_SYMLINK_FOLLOW))
}
