//go:build darwin

package sys

import (
	"golang.org/x/sys/unix"
)

// ioctlFIONREAD is FIONREAD, _IOR('f', 127, int).
const ioctlFIONREAD = 0x4004667f

// haveTimerfd: no timerfd here; Wait turns a wall-clock deadline into a
// monotonic one.
const haveTimerfd = false

// newWake returns a non-blocking pipe for cancellation (wakePipe).
func newWake() (r, w int, err error) { return wakePipe() }

// ppoll is pollRounded: poll(2), the timeout rounded up to a millisecond.
func ppoll(set []unix.PollFd, timeout *unix.Timespec) (int, error) { return pollRounded(set, timeout) }

// realtimeTimer is not used without timerfds (haveTimerfd).
func realtimeTimer(at int64) (int, Errno) { return -1, ENOSYS }

func armRealtime(fd int, at int64) Errno { return ENOSYS }

// PollRdhup: no POLLRDHUP here (a peer's shutdown shows as POLLHUP or a
// read of 0).
const PollRdhup = 0

// ClockRes returns a host clock's resolution in nanoseconds: x/sys/unix has
// no clock_getres here; macOS's clocks count in microseconds.
func ClockRes(clock int32) (int64, Errno) {
	switch clock {
	case unix.CLOCK_MONOTONIC, unix.CLOCK_REALTIME, unix.CLOCK_PROCESS_CPUTIME_ID, unix.CLOCK_THREAD_CPUTIME_ID:
		return 1000, ESUCCESS
	}
	return 0, EINVAL
}

// pollsDevices: macOS's poll(2) does not support devices (its man page,
// BUGS): a terminal gives POLLNVAL.
const pollsDevices = false
