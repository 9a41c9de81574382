//go:build linux && !darwinemul

package sys

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Linux's own calls where macOS makes do with others. With the darwinemul
// build tag, the ones macOS uses replace them (native_emul_linux.go), so
// that the whole suite runs them: go test -tags darwinemul ./wasi/...

// sockDomain is the address family of a socket (SO_DOMAIN).
func sockDomain(fd int) (int, error) {
	return unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
}

// fallocate is fallocate(2) mode 0.
func fallocate(fd int, off, length int64) error { return unix.Fallocate(fd, 0, off, length) }

// futimens sets fd's times (utimensat with AT_EMPTY_PATH).
func futimens(fd int, ts []unix.Timespec) error {
	return unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH)
}

// rwfAppendFlag is RWF_APPEND: one write appends, whatever the descriptor's
// own flags.
const rwfAppendFlag = unix.RWF_APPEND

// pwritev2 is pwritev2(2); off -1 writes at (and moves) the file position.
func pwritev2(fd int, bufs [][]byte, off int64, flags int) (int, error) {
	return unix.Pwritev2(fd, bufs, off, flags)
}

// haveTimerfd: wall-clock deadlines are armed on a timerfd.
const haveTimerfd = true

// newWake returns an eventfd for cancellation: read and written as one.
func newWake() (r, w int, err error) {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	return fd, fd, err
}

// ppoll is unix.Ppoll without a signal mask, raw when the timeout is zero
// (see nonblockingIO).
func ppoll(set []unix.PollFd, timeout *unix.Timespec) (int, error) {
	if timeout == nil || timeout.Sec != 0 || timeout.Nsec != 0 {
		return unix.Ppoll(set, timeout, nil)
	}
	var p unsafe.Pointer
	if len(set) > 0 {
		p = unsafe.Pointer(&set[0])
	}
	r, _, e := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(p), uintptr(len(set)), uintptr(unsafe.Pointer(timeout)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// realtimeTimer returns a timerfd that becomes readable when CLOCK_REALTIME
// reaches at.
func realtimeTimer(at int64) (int, Errno) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_REALTIME, unix.TFD_CLOEXEC|unix.TFD_NONBLOCK)
	if err != nil {
		return -1, ErrnoFromError(err)
	}
	if errno := armRealtime(fd, at); errno != 0 {
		unix.Close(fd)
		return -1, errno
	}
	return fd, ESUCCESS
}

func armRealtime(fd int, at int64) Errno {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(at)}
	if spec.Value.Sec == 0 && spec.Value.Nsec == 0 {
		spec.Value.Nsec = 1 // all zero would disarm the timer
	}
	return ErrnoFromError(unix.TimerfdSettime(fd, unix.TFD_TIMER_ABSTIME, &spec, nil))
}
