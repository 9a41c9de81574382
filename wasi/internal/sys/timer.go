package sys

import "math"

// Timer is a deadline: an absolute time in nanoseconds on a host clock,
// unix.CLOCK_MONOTONIC or unix.CLOCK_REALTIME.
type Timer struct {
	Clock int32
	At    int64
}

// Expired reports whether t's clock has reached t.At.
func (t Timer) Expired() bool {
	now, errno := Now(t.Clock)
	return errno == 0 && now >= t.At
}

// AddSaturated returns t+d, or math.MaxInt64 when that overflows; a
// timeout of "forever" (u64 max) must not wrap into the past.
func AddSaturated(t int64, d uint64) int64 {
	if t < 0 {
		if d > math.MaxInt64 {
			d = math.MaxInt64
		}
		return t + int64(d) // cannot overflow: t < 0 and d <= MaxInt64
	}
	if d > uint64(math.MaxInt64-t) {
		return math.MaxInt64
	}
	return t + int64(d)
}

// PollTarget returns the descriptor a poll_oneoff fd subscription names:
// EBADF when fd is not open or is a directory (which has no stream to be
// ready, as in wasmtime), ENOTCAPABLE without RightPollFdReadwrite.
func (s *System) PollTarget(fd int32) (*File, Errno) {
	f, errno := s.LookupRights(fd, RightPollFdReadwrite)
	if errno != 0 {
		return nil, errno
	}
	if f.Type == FiletypeDirectory {
		return nil, EBADF
	}
	return f, ESUCCESS
}

// PollResult interprets the revents of a wait on f for reading or writing:
// the bytes available (reads only), whether the peer hung up, and an error
// to report to the guest: EPIPE for a write to a pipe without reader, EIO
// otherwise (as wasmtime does). A socket's pending error is left pending,
// as poll(2) leaves it: the guest reads it with SO_ERROR, or gets it from
// its next send or recv.
func (f *File) PollResult(write bool, revents int16) (nbytes uint64, hangup bool, errno Errno) {
	if revents&PollNval != 0 {
		return 0, false, EBADF
	}
	hangup = revents&PollHup != 0
	if revents&PollErr != 0 {
		if f.Sock != nil {
			return 0, hangup, EIO
		}
		if write {
			return 0, hangup, EPIPE
		}
		if !hangup {
			return 0, false, EIO
		}
	}
	if !write {
		nbytes = f.Readable()
	}
	return nbytes, hangup, ESUCCESS
}
