//go:build linux && !darwinemul

package sys

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// On Linux the rest of the path is resolved beneath the preopen with openat2 and
// RESOLVE_BENEATH, so ".." and symlinks cannot leave it (EXDEV from the
// kernel becomes ENOTCAPABLE). The socket call itself then uses the path
// "/proc/self/fd/N/name" (bind: N is the parent directory) or
// "/proc/self/fd/N" (connect, sendto: N is an O_PATH descriptor of the
// socket file itself, so a final symlink cannot point outside either). These
// paths are short, so a deep guest path still fits in the 108 bytes of
// sun_path; the guest's own path is limited to 108 bytes too, as natively
// (ENAMETOOLONG). Requires /proc, which every Linux container has.

// maxUnixPath is the size of sun_path including its terminating NUL.
const maxUnixPath = 108

// unixSockaddr resolves the guest path p to a host address. For bind
// (target false) the last component must not exist yet and only its parent
// is opened; for connect and sendto (target true) the socket file is opened.
// The returned func closes what was opened; call it after the socket call.
func (s *System) unixSockaddr(p string, target bool) (*unix.SockaddrUnix, func(), Errno) {
	dirfd, rel, name, errno := s.unixPath(p, target)
	if errno != 0 {
		return nil, nil, errno
	}
	if target {
		fd, errno := resolveBeneath(dirfd, rel, unix.O_PATH, 0)
		if errno != 0 {
			return nil, nil, errno
		}
		return &unix.SockaddrUnix{Name: "/proc/self/fd/" + strconv.Itoa(fd)}, func() { unix.Close(fd) }, ESUCCESS
	}
	fd, errno := resolveBeneath(dirfd, rel, unix.O_PATH|unix.O_DIRECTORY, 0)
	if errno != 0 {
		return nil, nil, errno
	}
	host := "/proc/self/fd/" + strconv.Itoa(fd) + "/" + name
	if len(host) >= maxUnixPath {
		unix.Close(fd)
		return nil, nil, ENAMETOOLONG
	}
	return &unix.SockaddrUnix{Name: host}, func() { unix.Close(fd) }, ESUCCESS
}
