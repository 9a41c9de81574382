package wasi

import (
	"context"
	"errors"

	"github.com/tetratelabs/wazero/api"
	wsys "github.com/tetratelabs/wazero/sys"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

func init() {
	register(newFunc("poll_oneoff", pollOneoff, "in", "out", "nsubscriptions", "result.nevents"))
}

// Preview1 layouts and constants of poll_oneoff.
const (
	// subscription: userdata u64 @0, tag u8 @8, union @16: clock {id u32
	// @16, timeout u64 @24, precision u64 @32, flags u16 @40} or
	// fd_readwrite {fd u32 @16}.
	subscriptionLen = 48
	// event: userdata u64 @0, error u16 @8, type u8 @10, fd_readwrite
	// {nbytes u64 @16, flags u16 @24}.
	eventLen = 32

	eventtypeClock   = 0
	eventtypeFdRead  = 1
	eventtypeFdWrite = 2

	subclockAbstime   = 1
	eventrwflagHangup = 1

	// maxSubscriptions bounds what one call may make the host allocate
	// (about 100 bytes each, outside the guest's memory and its limit).
	// Go's netpoller never passes more than 65535.
	maxSubscriptions = 1 << 16
)

// pollSub is one decoded subscription and, once known, its event.
type pollSub struct {
	userdata uint64
	tag      byte

	// timer is the deadline of a clock subscription without errno.
	timer sys.Timer
	// file is the descriptor of a fd subscription waited on in the kernel
	// (fd, the guest's); pfd its index in the poll set, events what it
	// waits for there.
	file   *sys.File
	fd     int32
	pfd    int
	events int16
	// revents is what epoll_oneoff found pending for it.
	revents int16

	// ready is set when the subscription has an event: errno, or nbytes
	// and hangup for fd events.
	ready  bool
	errno  sys.Errno
	nbytes uint64
	hangup bool
}

// pollOneoff waits until at least one of the nsubscriptions subscriptions
// at in is ready, writes one 32-byte event per ready subscription at out, in
// subscription order, and their count at nevents. Bytes of out past the
// events written are left alone.
//
// Subscriptions:
//   - clock: fires at timeout ns from now, or at timeout on the clock with
//     SUBSCRIPTION_CLOCK_ABSTIME. Relative timeouts on any clock are measured
//     on CLOCK_MONOTONIC, absolute ones on the named clock (realtime or
//     monotonic, as clock_time_get reports them). The precision is ignored.
//     A CPU-time clock gives an event with error ENOTSUP, an unknown clock
//     one with EINVAL (both without waiting).
//   - fd_read, fd_write: ready when the host kernel says the descriptor is
//     (ppoll POLLIN, POLLOUT). nbytes is what FIONREAD reports for reads, 0
//     for writes; a peer that hung up sets FD_READWRITE_HANGUP. Regular files
//     are always ready (nbytes: bytes after the offset). An event error
//     reports EBADF for a descriptor that is not open or is a directory,
//     ENOTCAPABLE without the POLL_FD_READWRITE right, EPIPE for a pipe whose
//     reader is gone, a socket's pending error, or EIO.
//
// Any number of subscriptions may name one descriptor, for reading, writing
// or both (the kernel waits on it once); each gets its own event.
//
// When an event is already known (an error, a regular file), the call does
// not wait, but still reports every other descriptor ready at that moment.
// A wait ends on the first ready descriptor or expired clock, and every
// subscription ready then is reported; clocks only once they have expired.
// The wait is a single ppoll in the kernel: no CPU is used while waiting.
//
// When ctx is done (wazero closes the module then), the wait ends at once
// and the guest is ended with the exit code wazero uses for a done context,
// as if wazero had closed it itself: the guest never sees an errno it would
// treat as fatal (Go's runtime aborts on any but EINTR).
//
// Errors: EINVAL for nsubscriptions 0 or above 2^16, an unknown subscription
// tag or clock flags; EFAULT when in, out or nevents is out of bounds
// (checked before waiting; nothing is written then). POSIX: ppoll.
func pollOneoff(ctx context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	mem := mod.Memory()
	inBuf, outBuf, n, resultN, errno := pollArgs(mem, p)
	if errno != 0 {
		return errno
	}

	subs, fds, immediate, errno := h.decodeSubscriptions(inBuf, n)
	if errno != 0 {
		return errno
	}
	defer h.doneSubscriptions(subs)

	timers := h.timers[:0]
	if immediate {
		// Something is ready already: only look at the others, don't wait
		// (a deadline at monotonic time 0 is always in the past).
		timers = append(timers, sys.Timer{Clock: sys.ClockMonotonic, At: 0})
	} else {
		for i := range subs {
			if subs[i].tag == eventtypeClock && !subs[i].ready {
				timers = append(timers, subs[i].timer)
			}
		}
	}
	h.timers = timers
	if len(fds) > 0 || !immediate {
		_, errno := h.poller.Wait(ctx, fds, timers)
		if errno == sys.ECANCELED {
			endOnDone(ctx)
		}
		if errno != 0 {
			return errno
		}
	}

	nevents := uint32(0)
	var clocks clockReads
	for i := range subs {
		s := &subs[i]
		switch {
		case s.ready:
		case s.tag == eventtypeClock:
			s.ready = clocks.expired(s.timer)
		case s.file != nil && fds[s.pfd].Revents&(s.events|pollAlways) != 0:
			s.ready = true
			s.nbytes, s.hangup, s.errno = s.file.PollResult(s.tag == eventtypeFdWrite, fds[s.pfd].Revents&(s.events|pollAlways))
		}
		if s.ready {
			writeEvent(outBuf[nevents*eventLen:(nevents+1)*eventLen], s)
			nevents++
		}
	}
	return writeU32(mem, resultN, nevents)
}

// clockReads reads each host clock at most once, for deciding which clock
// subscriptions have expired after a wait.
type clockReads struct {
	mono, real int64
	have       [2]bool
}

// expired reports whether t's clock has reached t.At.
func (c *clockReads) expired(t sys.Timer) bool {
	now, have := &c.mono, &c.have[0]
	if t.Clock == sys.ClockRealtime {
		now, have = &c.real, &c.have[1]
	}
	if !*have {
		v, errno := sys.Now(t.Clock)
		if errno != 0 {
			return false
		}
		*now, *have = v, true
	}
	return *now >= t.At
}

// maxScratchSubscriptions bounds the subscriptions whose decoding the Host
// keeps for the next call; a larger call allocates its own.
const maxScratchSubscriptions = 4096

// pollAlways are the revents the kernel reports whatever was asked for.
const pollAlways = sys.PollErr | sys.PollHup | sys.PollNval

// decodeSubscriptions decodes n subscriptions. It returns them, the poll set
// for the fd subscriptions that need the kernel, and whether any subscription
// is ready already (an error event or a regular file). The poll set has one
// entry per descriptor, however many subscriptions name it and for what:
// ppoll refuses a set longer than RLIMIT_NOFILE (EINVAL), which a guest
// could otherwise reach by subscribing to one descriptor many times.
//
// subs and the poll set are the Host's scratch slices when n is small (a
// guest is single-threaded: nothing else uses them while this call does);
// the caller hands subs to doneSubscriptions when it is done with them. The
// poll set has room for two more entries, for the Poller's own.
func (h *Host) decodeSubscriptions(buf []byte, n uint32) (subs []pollSub, fds []sys.PollFd, immediate bool, errno sys.Errno) {
	var set pollSet
	if n <= maxScratchSubscriptions {
		if uint32(cap(h.subs)) < n {
			h.subs = make([]pollSub, n)
		}
		if uint32(cap(h.pollFDs)) < n+2 {
			h.pollFDs = make([]sys.PollFd, 0, n+2)
		}
		subs = h.subs[:n]
		clear(subs)
		set.fds = h.pollFDs[:0]
	} else {
		subs = make([]pollSub, n)
		set.fds = make([]sys.PollFd, 0, n+2)
	}
	set.slot = h.pollSlots
	decoded := subs // subs itself is nil after an error return
	defer func() {
		for i := range decoded {
			if decoded[i].file != nil {
				set.slot[decoded[i].fd] = 0
			}
		}
		h.pollSlots = set.slot
		if errno != 0 {
			h.doneSubscriptions(decoded)
		}
	}()
	monoNow, realNow := int64(-1), int64(-1) // read once, on first use
	for i := range subs {
		b := buf[i*subscriptionLen : (i+1)*subscriptionLen]
		s := &subs[i]
		s.userdata = le64(b)
		s.tag = b[8]
		switch s.tag {
		case eventtypeClock:
			id, timeout, flags := le32(b[16:]), le64(b[24:]), le16(b[40:])
			if flags&^subclockAbstime != 0 {
				return nil, nil, false, sys.EINVAL
			}
			clock, errno := hostClock(id)
			if errno != 0 {
				s.ready, s.errno, immediate = true, errno, true
				continue
			}
			if clock != sys.ClockMonotonic && clock != sys.ClockRealtime {
				// No deadline on a CPU clock: an event now, not a wait.
				s.ready, s.errno, immediate = true, sys.ENOTSUP, true
				continue
			}
			if flags&subclockAbstime == 0 {
				// Relative: a duration, measured on the monotonic clock
				// whatever the clock id, so changes of the wall clock do not
				// stretch or cut it (as for a relative clock_nanosleep).
				if monoNow < 0 {
					if monoNow, errno = sys.Now(sys.ClockMonotonic); errno != 0 {
						return nil, nil, false, errno
					}
				}
				s.timer = sys.Timer{Clock: sys.ClockMonotonic, At: sys.AddSaturated(monoNow, timeout)}
			} else {
				s.timer = sys.Timer{Clock: clock, At: sys.AddSaturated(0, timeout)}
			}
			// A clock already expired is ready without waiting.
			now := &monoNow
			if s.timer.Clock == sys.ClockRealtime {
				now = &realNow
			}
			if *now < 0 {
				if *now, errno = sys.Now(s.timer.Clock); errno != 0 {
					return nil, nil, false, errno
				}
			}
			if *now >= s.timer.At {
				s.ready = true
			}
		case eventtypeFdRead, eventtypeFdWrite:
			f, errno := h.sys.PollTarget(int32(le32(b[16:])))
			switch {
			case errno != 0:
				s.ready, s.errno = true, errno
			case f.AlwaysReady():
				s.ready = true
				if s.tag == eventtypeFdRead {
					s.nbytes = f.Readable()
				}
			default:
				s.file, s.events = f, sys.PollIn
				if s.tag == eventtypeFdWrite {
					s.events = sys.PollOut
				}
				s.fd = int32(le32(b[16:]))
				s.pfd = set.add(s.fd, f, s.events)
			}
		default:
			return nil, nil, false, sys.EINVAL
		}
		if s.ready {
			immediate = true
		}
	}
	return subs, set.fds, immediate, sys.ESUCCESS
}

// doneSubscriptions drops what the scratch subscriptions hold (open files)
// once a call is done with them.
func (h *Host) doneSubscriptions(subs []pollSub) {
	if len(subs) <= maxScratchSubscriptions {
		clear(subs)
	}
}

// pollSet builds a poll set with one entry per descriptor, found by guest
// descriptor (dense, the fd table's index) in slot: 1 + the index of its
// entry. slot is the Host's scratch space, all zeros between calls, so a
// call allocates nothing to find duplicates however many descriptors it
// names (Go's netpoller names every one it waits on).
type pollSet struct {
	fds  []sys.PollFd
	slot []int32
}

// add adds events for guest descriptor fd, open as f, and returns the
// index of its entry.
func (p *pollSet) add(fd int32, f *sys.File, events int16) int {
	if int(fd) >= len(p.slot) {
		p.slot = append(p.slot, make([]int32, int(fd)+1-len(p.slot))...)
	}
	i := int(p.slot[fd]) - 1
	if i < 0 {
		i = len(p.fds)
		p.fds = append(p.fds, f.PollFd(0))
		p.slot[fd] = int32(i + 1)
	}
	p.fds[i].Events |= events
	return i
}

// writeEvent encodes s's event into the 32 bytes of b.
func writeEvent(b []byte, s *pollSub) {
	clear(b)
	putLe64(b, s.userdata)
	putLe16(b[8:], uint16(s.errno))
	b[10] = s.tag
	if s.tag != eventtypeClock {
		putLe64(b[16:], s.nbytes)
		if s.hangup {
			putLe16(b[24:], eventrwflagHangup)
		}
	}
}

// endOnDone ends the guest because ctx is done, with the error wazero gives
// when it closes a module for that reason (WithCloseOnContextDone).
func endOnDone(ctx context.Context) {
	code := wsys.ExitCodeContextCanceled
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		code = wsys.ExitCodeDeadlineExceeded
	}
	panic(wsys.NewExitError(code))
}

// pollArgs decodes (in, out, nsubscriptions, result.nevents) of
// poll_oneoff and epoll_oneoff: views of the subscriptions and of the
// events, checked before anything waits so a fault writes nothing.
func pollArgs(mem api.Memory, p []uint64) (inBuf, outBuf []byte, n, resultN uint32, errno sys.Errno) {
	in, out := uint32(p[0]), uint32(p[1])
	n, resultN = uint32(p[2]), uint32(p[3])
	if n == 0 {
		return nil, nil, 0, 0, sys.EINVAL
	}
	if uint64(n)*subscriptionLen > uint64(mem.Size()) {
		return nil, nil, 0, 0, sys.EFAULT
	}
	inBuf, ok := mem.Read(in, n*subscriptionLen)
	if !ok {
		return nil, nil, 0, 0, sys.EFAULT
	}
	if outBuf, ok = mem.Read(out, n*eventLen); !ok {
		return nil, nil, 0, 0, sys.EFAULT
	}
	if _, ok := mem.Read(resultN, 4); !ok {
		return nil, nil, 0, 0, sys.EFAULT
	}
	if n > maxSubscriptions {
		return nil, nil, 0, 0, sys.EINVAL
	}
	return inBuf, outBuf, n, resultN, sys.ESUCCESS
}
