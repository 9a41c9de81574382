//go:build darwin

package sys

import (
	"time"

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

// sockDomain is the address family of a socket, from its local address.
func sockDomain(fd int) (int, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return -1, err
	}
	switch sa.(type) {
	case *unix.SockaddrInet4:
		return unix.AF_INET, nil
	case *unix.SockaddrInet6:
		return unix.AF_INET6, nil
	case *unix.SockaddrUnix:
		return unix.AF_UNIX, nil
	}
	return -1, unix.EAFNOSUPPORT
}

// fadvise: a hint, and macOS has no posix_fadvise; taken and ignored.
func fadvise(fd int, off, length int64, advice uint8) error { return nil }

// fallocate grows the file to off+length when it is shorter, which is what
// fallocate mode 0 guarantees to the guest (the blocks are not reserved).
func fallocate(fd int, off, length int64) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Size >= off+length {
		return nil
	}
	return unix.Ftruncate(fd, off+length)
}

// fdatasync is fsync(2) (x/sys/unix has no fdatasync here).
func fdatasync(fd int) error { return unix.Fsync(fd) }

// futimens sets fd's times with futimes(2), to the microsecond: the
// special values are resolved first (the current time, or the file's own
// time to leave it unchanged).
func futimens(fd int, ts []unix.Timespec) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	now := unix.NsecToTimespec(time.Now().UnixNano())
	tv := make([]unix.Timeval, 2)
	for i, t := range ts[:2] {
		switch t.Nsec {
		case utimeNow:
			t = now
		case utimeOmit:
			t = st.Atim
			if i == 1 {
				t = st.Mtim
			}
		}
		tv[i] = unix.NsecToTimeval(t.Nano())
	}
	return unix.Futimes(fd, tv)
}

// rwfAppendFlag marks a write that must append (see pwritev2).
const rwfAppendFlag = 1

// pwritev2: without pwritev2, a write that must append (flags
// rwfAppendFlag) seeks to the end and writes there, which moves the file
// position and is not atomic against other writers of a shared file.
// off -1 writes at (and moves) the file position.
func pwritev2(fd int, bufs [][]byte, off int64, flags int) (int, error) {
	if flags&rwfAppendFlag != 0 {
		if _, err := unix.Seek(fd, 0, unix.SEEK_END); err != nil {
			return 0, err
		}
		return unix.Writev(fd, bufs)
	}
	if off < 0 {
		return unix.Writev(fd, bufs)
	}
	return unix.Pwritev(fd, bufs, off)
}
