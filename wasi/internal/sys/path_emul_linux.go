//go:build linux && darwinemul

package sys

import "golang.org/x/sys/unix"

// With the darwinemul build tag, path resolution on Linux is the walk of
// macOS (walk_unix.go), directories opened O_RDONLY as there: every path
// test then runs against it. go test -tags darwinemul ./wasi/...

const oPath = unix.O_RDONLY

func resolveBeneath(dirfd int, path string, flags int, mode uint32) (int, Errno) {
	return walkBeneath(dirfd, path, flags, mode)
}

func (p *parent) keepSlash() Errno { return walkKeepSlash(p) }

func atPathFollow(dirfd int, path string, fn func(fd int, name string, flags int) error) Errno {
	return walkAtPathFollow(dirfd, path, fn)
}

func linkFollow(oldDir int, oldPath string, np parent) Errno {
	return walkLinkFollow(oldDir, oldPath, np)
}
