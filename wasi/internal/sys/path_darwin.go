//go:build darwin

package sys

import (
	"golang.org/x/sys/unix"
)

// Path resolution without openat2 is the walk of walk_unix.go.

// oPath: no O_PATH here; a directory is opened for reading.
const oPath = unix.O_RDONLY

// oRsync: macOS has no O_RSYNC; O_DSYNC is the closest (reads are always
// of the file's current data).
const oRsync = unix.O_DSYNC

// resolveBeneath is the walk (walk_unix.go).
func resolveBeneath(dirfd int, path string, flags int, mode uint32) (int, Errno) {
	return walkBeneath(dirfd, path, flags, mode)
}

// keepSlash checks the POSIX trailing-slash rule without passing the '/' to
// the kernel: what the last component names, if anything, must be a
// directory (ENOTDIR).
func (p *parent) keepSlash() Errno {
	var st unix.Stat_t
	if err := unix.Fstatat(p.fd, p.name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return ENOTDIR
	}
	return ESUCCESS
}

// atPathFollow walks path, a final symlink followed, and passes fn the
// directory holding the last component with AT_SYMLINK_NOFOLLOW.
func atPathFollow(dirfd int, path string, fn func(fd int, name string, flags int) error) Errno {
	p, errno := resolveParent(dirfd, path, true)
	if errno != 0 {
		return errno
	}
	defer p.Close()
	return ErrnoFromError(fn(p.fd, p.name, unix.AT_SYMLINK_NOFOLLOW))
}

// linkFollow links oldPath beneath oldDir, a final symlink followed by the
// walk (linkat itself follows nothing), to np.
func linkFollow(oldDir int, oldPath string, np parent) Errno {
	p, errno := resolveParent(oldDir, oldPath, true)
	if errno != 0 {
		return errno
	}
	defer p.Close()
	return ErrnoFromError(unix.Linkat(p.fd, p.name, np.fd, np.name, 0))
}

// kernelFS reports whether fd is on a kernel interface no guest may write.
// macOS has no procfs, sysfs or cgroup file system; devfs is reached only
// through a preopen that names it.
func kernelFS(fd int) bool { return false }
