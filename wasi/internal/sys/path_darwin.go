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

// kernelFS reports whether fd is on a kernel interface no guest may write.
// macOS has no procfs, sysfs or cgroup file system; devfs is reached only
// through a preopen that names it.
func kernelFS(fd int) bool { return false }

func (p *parent) keepSlash() Errno { return walkKeepSlash(p) }

func atPathFollow(dirfd int, path string, fn func(fd int, name string, flags int) error) Errno {
	return walkAtPathFollow(dirfd, path, fn)
}

func linkFollow(oldDir int, oldPath string, np parent) Errno {
	return walkLinkFollow(oldDir, oldPath, np)
}
