//go:build darwin || windows || (linux && darwinemul)

package sys

import (
	"context"
	"slices"
	"time"
)

// EdgePoller on macOS and Windows: edge triggering emulated over the
// level-triggered poll each system has (poll(2); WSAPoll, pipes and the
// console looked at as poll_windows.go does), the same code for both. (On
// Linux it runs with the darwinemul build tag, so its tests run there.)
//
// Each call looks at every subscribed descriptor at once (a poll with a
// zero timeout) and keeps what it saw (edgeState.last, and the input
// FIONREAD counts, edgeState.unread). A direction has an edge, kept as
// pending until reported, when it is ready now and
//   - it was re-armed since the last look: subscribed for the first time,
//     an operation on it said EAGAIN (read, recv, accept, write, send), a
//     stream write was short (the buffer filled), a connect started (both
//     directions, and what was seen before is forgotten), a datagram was
//     received or a connection accepted (see below); or
//   - it has an event it did not have at the last look (readable after
//     not, writable after not, a hang-up, an error); or
//   - for reading: more input is queued than at the last look less what
//     the guest's reads took since (more arrived).
//
// A blocking wait waits, in the Poller, for what can make an edge: input
// where there was none, room where there was none, hang-ups and errors;
// a direction that is ready and was reported is left out of the poll set
// (level-triggered, it would end every wait). More input on a descriptor
// whose earlier input the guest has not read cannot be waited for in a
// level-triggered poll: while a read subscription has such input, the
// wait looks again every edgeTick (FIONREAD growth), so new input is
// reported within edgeTick. So is a hang-up or an error of a descriptor
// whose subscribed directions were all reported (nothing else to wait
// for). A descriptor that hung up or has an error is not waited on again
// (its state no longer changes; an error is looked at every edgeTick),
// but its directions re-armed by an operation are reported at the next
// call.
//
// The missed wake-up: the guest reads until EAGAIN after an edge, and
// input arrives before its next epoll_oneoff. Comparing readiness between
// calls alone would miss it (readable at both looks); the EAGAIN re-armed
// reading, so it is reported. Had the guest stopped reading before EAGAIN,
// the FIONREAD count tells the new input apart from what it left.
//
// Where this differs from Linux's EPOLLET:
//   - input that arrives while unread input sits, and a hang-up or an
//     error of a descriptor whose subscribed directions were all
//     reported, are seen within edgeTick, not at once;
//   - a datagram socket or a listener reports what is still queued again
//     after each datagram received or connection accepted (their queues
//     are not counted in bytes), and a new datagram or connection behind
//     ones not yet taken is seen only then: Linux reports each arrival;
//   - an edge is found only by a look at a call or wake-up: input that
//     arrives and is read between two calls (without EAGAIN) gives no
//     event, where Linux reports the arrival (a spurious event then);
//   - a write direction is re-armed by EAGAIN and by a short stream write
//     only: Linux also reports room freed while the guest never filled
//     the buffer (rarely: its EPOLLOUT edges come from freed space once
//     the socket was out of space).
//
// The guest's reads and writes keep their cost when it never called
// epoll_oneoff: each checks one pointer (File.edge).
type EdgePoller struct {
	// calls are the descriptors armed in the current call, with the
	// directions subscribed.
	calls []edgeCall
	// set and timers are scratch space for the waits (set with room for
	// the Poller's own).
	set    []PollFd
	timers []Timer
}

// edgeCall is a descriptor armed in the current call.
type edgeCall struct {
	f    *File
	dirs uint32 // againRead, againWrite
}

// edgeTick is how often a wait looks for more input where unread input
// sits, or at a descriptor with an error.
const edgeTick = 10 * time.Millisecond

// Events per direction, as seen by a look.
const (
	edgeReadEvents  = PollIn | PollRdhup | PollHup | PollErr | PollNval
	edgeWriteEvents = PollOut | PollHup | PollErr | PollNval
)

// lookNow makes Poller.Wait a look: one poll with a zero timeout.
var lookNow = []Timer{{Clock: ClockMonotonic, At: 0}}

// NewEdgePoller returns an EdgePoller.
func NewEdgePoller() *EdgePoller { return &EdgePoller{} }

// Close releases what the EdgePoller holds (no descriptor here).
func (e *EdgePoller) Close() error {
	e.Done()
	return nil
}

// Arm adds f, for reading or writing, to the current call. The first
// subscription to f reports its current state.
func (e *EdgePoller) Arm(f *File, write bool) Errno {
	dir := uint32(againRead)
	if write {
		dir = againWrite
	}
	st := f.edge
	if st == nil {
		st = &edgeState{}
		st.again.Store(againRead | againWrite)
		f.edge = st
	}
	if st.slot == 0 {
		e.calls = append(e.calls, edgeCall{f: f})
		st.slot = int32(len(e.calls))
	}
	e.calls[st.slot-1].dirs |= dir
	return ESUCCESS
}

// Done ends a call.
func (e *EdgePoller) Done() {
	for _, c := range e.calls {
		c.f.edge.slot = 0
	}
	clear(e.calls)
	e.calls = e.calls[:0]
}

// Pending returns the pending events of f for one direction, as poll
// revents, or 0.
func (e *EdgePoller) Pending(f *File, write bool) int16 {
	if f.edge == nil {
		return 0
	}
	return f.edge.pending[dirIndex(write)]
}

// Consume forgets the pending events of f for one direction once they
// have been reported.
func (e *EdgePoller) Consume(f *File, write bool) {
	if f.edge != nil {
		f.edge.pending[dirIndex(write)] = 0
	}
}

// Wait looks at the armed descriptors and keeps their edges as pending.
// With block, when no subscribed direction is pending then, it waits with
// p for what can make an edge (see above), a timer to expire or ctx to be
// done (ECANCELED), and looks again; it may return with nothing pending
// (after edgeTick).
func (e *EdgePoller) Wait(ctx context.Context, p *Poller, timers []Timer, block bool) Errno {
	if errno := e.look(p); errno != 0 || !block {
		return errno
	}
	set, tick := e.set[:0], false
	for _, c := range e.calls {
		st := c.f.edge
		if c.dirs&againRead != 0 && st.pending[0] != 0 || c.dirs&againWrite != 0 && st.pending[1] != 0 {
			return ESUCCESS // an event already
		}
		if seen := st.last[0] | st.last[1]; seen&(PollHup|PollErr|PollNval) != 0 {
			// Level-triggered, the poll would report these at once.
			tick = tick || seen&PollHup == 0
			continue
		}
		var events int16
		if c.dirs&againRead != 0 {
			if st.last[0]&PollIn == 0 {
				events |= PollIn
			} else {
				tick = true // unread input: look for more
			}
			if st.last[0]&PollRdhup == 0 {
				events |= PollRdhup
			}
		}
		if c.dirs&againWrite != 0 && st.last[1]&PollOut == 0 {
			events |= PollOut
		}
		if events == 0 {
			// Only a hang-up or an error could be new: macOS's poll(2)
			// waits for those only with an event asked for, and that one
			// would be ready. Looked at every edgeTick.
			tick = true
			continue
		}
		set = append(set, c.f.PollFd(events))
	}
	e.set = slices.Grow(set, 2) // room for the Poller's own
	if tick {
		now, errno := Now(ClockMonotonic)
		if errno != 0 {
			return errno
		}
		e.timers = append(append(e.timers[:0], timers...), Timer{Clock: ClockMonotonic, At: now + int64(edgeTick)})
		timers = e.timers
	}
	if _, errno := p.Wait(ctx, set, timers); errno != 0 {
		return errno
	}
	return e.look(p)
}

// look polls every armed descriptor without waiting and finds its edges.
func (e *EdgePoller) look(p *Poller) Errno {
	if len(e.calls) == 0 {
		return ESUCCESS
	}
	set := e.set[:0]
	for _, c := range e.calls {
		set = append(set, c.f.PollFd(PollIn|PollOut|PollRdhup))
	}
	e.set = slices.Grow(set, 2)
	if _, errno := p.Wait(context.Background(), set, lookNow); errno != 0 {
		return errno
	}
	for i, c := range e.calls {
		c.f.edge.observe(c.f, set[i].Revents)
	}
	return ESUCCESS
}

// observe finds the edges of f in revents, what a look found.
func (e *edgeState) observe(f *File, revents int16) {
	again := e.again.Swap(0)
	if again&againReset != 0 {
		e.last, e.pending = [2]int16{}, [2]int16{}
		again = againRead | againWrite
	}
	now := [2]int16{revents & edgeReadEvents, revents & edgeWriteEvents}
	unread := int64(0)
	if now[0]&PollIn != 0 {
		unread = int64(f.Readable())
	}
	for i, dir := range [2]uint32{againRead, againWrite} {
		edge := again&dir != 0 || now[i]&^e.last[i] != 0 || i == 0 && unread > max(e.unread.Load(), 0)
		if now[i] != 0 && (edge || e.pending[i] != 0) {
			e.pending[i] |= now[i]
			again &^= dir
		}
	}
	e.last = now
	e.unread.Store(unread)
	e.again.Or(again) // re-armed directions not ready yet stay so
}
