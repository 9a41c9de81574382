//go:build linux

package sys

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioctlFIONREAD is FIONREAD, called TIOCINQ here.
const ioctlFIONREAD = unix.TIOCINQ

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

// PollRdhup is POLLRDHUP: the peer shut down its sending side.
const PollRdhup = unix.POLLRDHUP

// ClockRes returns a host clock's resolution in nanoseconds (clock_getres).
func ClockRes(clock int32) (int64, Errno) {
	var ts unix.Timespec
	if err := unix.ClockGetres(clock, &ts); err != nil {
		return 0, ErrnoFromError(err)
	}
	return ts.Nano(), ESUCCESS
}

// pollsDevices: ppoll waits for character devices (terminals) too.
const pollsDevices = true
