//go:build linux || darwin

package sys

import "golang.org/x/sys/unix"

// The host's names for what the ABI layer hands to a Poller, so that it
// needs no system package of its own.

// PollFd is one entry of a poll set: struct pollfd.
type PollFd = unix.PollFd

// NewPollFd is the poll set entry waiting for events on host descriptor fd.
func NewPollFd(fd int, events int16) PollFd {
	return unix.PollFd{Fd: int32(fd), Events: events}
}

// Poll events.
const (
	PollIn   = unix.POLLIN
	PollOut  = unix.POLLOUT
	PollErr  = unix.POLLERR
	PollHup  = unix.POLLHUP
	PollNval = unix.POLLNVAL
)

// Host clocks, for Now, ClockRes and Timer.
const (
	ClockRealtime   int32 = unix.CLOCK_REALTIME
	ClockMonotonic  int32 = unix.CLOCK_MONOTONIC
	ClockProcessCPU int32 = unix.CLOCK_PROCESS_CPUTIME_ID
	ClockThreadCPU  int32 = unix.CLOCK_THREAD_CPUTIME_ID
)

// PollFd is the poll set entry waiting for events on f.
func (f *File) PollFd(events int16) PollFd { return NewPollFd(f.Fd, events) }
