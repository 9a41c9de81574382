package wasi

import (
	"context"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

func init() {
	register(newFunc("epoll_oneoff", epollOneoff, "in", "out", "nsubscriptions", "result.nevents"))
}

// epollOneoff is poll_oneoff, edge-triggered (the socket extension's
// epoll_oneoff, used by Rust mio builds): the same subscriptions, events and
// errors (see pollOneoff), but a descriptor is reported once per change of
// readiness, not for as long as it stays ready. A socket that stays writable
// is reported writable once, then again only after it was full; unread input
// is not reported again until more arrives. The first subscription to a
// descriptor reports its current state. Clocks and cancellation behave as
// in pollOneoff. On Linux the wait is one ppoll on the guest's epoll
// instance; on macOS and Windows, edge triggering is emulated over their
// poll (sys.EdgePoller says how, and where that differs from EPOLLET).
//
// Errors: as pollOneoff. POSIX: epoll_wait with EPOLLET.
func epollOneoff(ctx context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	mem := mod.Memory()
	inBuf, outBuf, n, resultN, errno := pollArgs(mem, p)
	if errno != 0 {
		return errno
	}
	subs, _, immediate, errno := h.decodeSubscriptions(inBuf, n)
	if errno != 0 {
		return errno
	}
	defer h.doneSubscriptions(subs)

	defer h.epoll.Done()
	for i := range subs {
		if f := subs[i].file; f != nil && !subs[i].ready {
			if errno := h.epoll.Arm(f, subs[i].tag == eventtypeFdWrite); errno != 0 {
				return errno
			}
		}
	}
	timers := h.timers[:0]
	for i := range subs {
		if subs[i].tag == eventtypeClock && !subs[i].ready {
			timers = append(timers, subs[i].timer)
		}
	}
	h.timers = timers

	for block := false; ; block = true {
		if errno := h.epoll.Wait(ctx, h.poller, timers, block); errno != 0 {
			if errno == sys.ECANCELED {
				endOnDone(ctx)
			}
			return errno
		}
		found := immediate
		for i := range subs {
			s := &subs[i]
			switch {
			case s.ready:
			case s.tag == eventtypeClock:
				found = found || s.timer.Expired()
			case s.file != nil:
				s.revents = h.epoll.Pending(s.file, s.tag == eventtypeFdWrite)
				found = found || s.revents != 0
			}
		}
		if found {
			break
		}
	}

	nevents := uint32(0)
	for i := range subs {
		s := &subs[i]
		switch {
		case s.ready:
		case s.tag == eventtypeClock:
			s.ready = s.timer.Expired()
		case s.file != nil && s.revents != 0:
			s.ready = true
			ev := s.revents
			if s.tag == eventtypeFdRead && ev&sys.PollRdhup != 0 {
				// The peer shut down its side: the read side hung up.
				ev |= sys.PollHup
			}
			s.nbytes, s.hangup, s.errno = s.file.PollResult(s.tag == eventtypeFdWrite, ev)
		}
		if s.ready {
			writeEvent(outBuf[nevents*eventLen:(nevents+1)*eventLen], s)
			nevents++
		}
	}
	for i := range subs {
		if s := &subs[i]; s.file != nil && s.revents != 0 {
			h.epoll.Consume(s.file, s.tag == eventtypeFdWrite)
		}
	}
	return writeU32(mem, resultN, nevents)
}
