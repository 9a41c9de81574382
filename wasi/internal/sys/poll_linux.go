//go:build linux

package sys

import (
	"golang.org/x/sys/unix"
)

// ioctlFIONREAD is FIONREAD, called TIOCINQ here.
const ioctlFIONREAD = unix.TIOCINQ

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
