//go:build darwin

package sys

import "golang.org/x/sys/unix"

// unixSockaddr: a Unix socket path cannot be used here yet. macOS has no
// /proc/self/fd to name a directory the walk opened, and passing the host
// path would let a symlink swapped in after the walk lead outside the
// preopen, so bind, connect and sendto with a path are ENOSYS.
func (s *System) unixSockaddr(p string, target bool) (*unix.SockaddrUnix, func(), Errno) {
	return nil, nil, ENOSYS
}

// fdPath is the host path of an open directory: not known here (peers'
// paths are then reported without a guest name).
func fdPath(fd int) (string, error) { return "", unix.ENOSYS }
