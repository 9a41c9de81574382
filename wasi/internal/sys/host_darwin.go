//go:build darwin

package sys

import (
	"golang.org/x/sys/unix"
)

// The few host calls whose form differs between Linux and macOS; the
// shared code in the _unix.go files calls these. macOS has no SOCK_CLOEXEC,
// SOCK_NONBLOCK, accept4, pipe2, fallocate, fadvise, futimens or pwritev2:
// each is made of the calls it has.

// soBindtodevice: no SO_BINDTODEVICE here (lookupSockopt: ENOPROTOOPT).
const soBindtodevice = -1

// utimeNow and utimeOmit are utimensat's special nanosecond values
// (<sys/stat.h>).
const (
	utimeNow  = -1
	utimeOmit = -2
)

// pipeCloexec is pipe(2) with both ends made close-on-exec.
func pipeCloexec(p []int) error {
	if err := unix.Pipe(p); err != nil {
		return err
	}
	unix.CloseOnExec(p[0])
	unix.CloseOnExec(p[1])
	return nil
}

// socketCloexec is socket(2), then close-on-exec, and SO_NOSIGPIPE (a
// write to a closed peer is EPIPE, never a signal).
func socketCloexec(domain, typ int) (int, error) {
	fd, err := unix.Socket(domain, typ, 0)
	if err != nil {
		return -1, err
	}
	unix.CloseOnExec(fd)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NOSIGPIPE, 1)
	return fd, nil
}

// accept is accept(2), then close-on-exec and the non-blocking mode asked
// for (a BSD accepted socket inherits the listener's O_NONBLOCK; the guest's
// choice is what counts).
func accept(fd int, nonblock bool) (int, error) {
	nfd, _, err := unix.Accept(fd)
	if err != nil {
		return -1, err
	}
	unix.CloseOnExec(nfd)
	unix.SetsockoptInt(nfd, unix.SOL_SOCKET, unix.SO_NOSIGPIPE, 1)
	if err := unix.SetNonblock(nfd, nonblock); err != nil {
		unix.Close(nfd)
		return -1, err
	}
	return nfd, nil
}

// fadvise: a hint, and macOS has no posix_fadvise; taken and ignored.
func fadvise(fd int, off, length int64, advice uint8) error { return nil }

// fdatasync is fsync(2) (x/sys/unix has no fdatasync here).
func fdatasync(fd int) error { return unix.Fsync(fd) }

func sockDomain(fd int) (int, error) { return sockDomainByName(fd) }

func fallocate(fd int, off, length int64) error { return fallocateByTruncate(fd, off, length) }

func futimens(fd int, ts []unix.Timespec) error { return futimesOf(fd, ts) }

// rwfAppendFlag marks a write that must append (pwritevAppend).
const rwfAppendFlag = appendFlag

func pwritev2(fd int, bufs [][]byte, off int64, flags int) (int, error) {
	return pwritevAppend(fd, bufs, off, flags)
}

// closedStream reports whether TCP socket fd is closed: its connect
// failed (or it never had one). Host sockets are Linux's (Outside); a
// socket that says it is not connected counts.
func closedStream(fd int) bool {
	_, err := unix.Getpeername(fd)
	return err == unix.ENOTCONN
}
