//go:build linux || darwin

package sys

import (
	"math"
	"time"

	"golang.org/x/sys/unix"
)

// Host calls made of others, for systems without the one call (macOS:
// host_darwin.go uses them). They build on Linux too, where their tests run
// (hostemul_linux_test.go).

// appendFlag marks a write that must append (see pwritevAppend).
const appendFlag = 1

// sockDomainByName is the address family of a socket, from its local address.
func sockDomainByName(fd int) (int, error) {
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

// fallocateByTruncate grows the file to off+length when it is shorter, which is what
// fallocate mode 0 guarantees to the guest (the blocks are not reserved).
func fallocateByTruncate(fd int, off, length int64) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Size >= off+length {
		return nil
	}
	return unix.Ftruncate(fd, off+length)
}

// futimesOf sets fd's times with futimes(2), truncated to the microsecond:
// the special values are resolved first (the current time, or the file's
// own time, which a time left unchanged is then truncated to).
func futimesOf(fd int, ts []unix.Timespec) error {
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
		n := t.Nano()
		tv[i] = unix.NsecToTimeval(n - n%1000) // truncated (NsecToTimeval rounds up)
	}
	return unix.Futimes(fd, tv)
}

// pwritevAppend is pwritev2 without it: a write that must append (flags
// appendFlag) seeks to the end and writes there, which moves the file
// position and is not atomic against other writers of a shared file.
// off -1 writes at (and moves) the file position.
func pwritevAppend(fd int, bufs [][]byte, off int64, flags int) (int, error) {
	if flags&appendFlag != 0 {
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

// wakePipe returns a non-blocking pipe for Poller cancellation.
func wakePipe() (r, w int, err error) {
	var p [2]int
	if err := pipeCloexec(p[:]); err != nil {
		return -1, -1, err
	}
	for _, fd := range p {
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(p[0])
			unix.Close(p[1])
			return -1, -1, err
		}
	}
	return p[0], p[1], nil
}

// pollRounded is poll(2) with the timeout rounded up to a millisecond (so
// a wait never ends before its deadline; Wait waits again for what
// remains).
func pollRounded(set []unix.PollFd, timeout *unix.Timespec) (int, error) {
	ms := -1
	if timeout != nil {
		ns := timeout.Nano()
		ms = int(min((ns+999_999)/1_000_000, math.MaxInt32))
	}
	return unix.Poll(set, ms)
}
