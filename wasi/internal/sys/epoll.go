package sys

import "sync/atomic"

// EdgePoller keeps the edge-triggered readiness state behind epoll_oneoff:
// a descriptor is reported once per change of readiness (new data, new
// room to write after it was full, a hang-up), not for as long as it stays
// ready; that is what mio-style guests built on epoll_oneoff expect. The
// first subscription to a descriptor reports its current state. Events of
// a direction the guest did not ask for this time are kept as pending
// until it does.
//
// One call of epoll_oneoff uses it so: Arm for each fd subscription, Wait
// (first without blocking, then blocking until something is pending or a
// timer expired, through the guest's Poller, so deadlines and cancellation
// work as for poll_oneoff), Pending and Consume per subscription, Done.
// An EdgePoller serves one guest, whose calls come one at a time.
//
// There are two backends:
//   - Linux (epoll_linux.go): one epoll instance per guest, every
//     descriptor the guest ever subscribed to registered with EPOLLET for
//     both directions; the kernel finds the edges.
//   - macOS and Windows (epoll_emul.go): edges found over each system's
//     level-triggered poll (poll(2), WSAPoll), from what the descriptor
//     looks like at each call and wake-up and from what the guest's reads
//     and writes met since (edgeState); the exact semantics and how they
//     differ from EPOLLET are documented there.

// edgeState is what the emulated EdgePoller (epoll_emul.go) keeps of one
// descriptor the guest subscribed to with epoll_oneoff: File.edge, nil
// until then (and always on Linux, whose kernel keeps it). The guest's
// reads and writes tell it what they met (the edge* hooks below); the
// rest belongs to the EdgePoller.
type edgeState struct {
	// again holds againRead and againWrite for directions whose next
	// readiness is an edge whatever was seen before (first subscription;
	// an operation said EAGAIN), and againReset after a connect.
	again atomic.Uint32
	// unread is the input seen at the last look (FIONREAD) less what the
	// guest's reads took since: more than that now means more arrived. It
	// goes below 0 when reads took input that arrived after the look.
	unread atomic.Int64

	// last are the read and write events seen at the last look, pending
	// those found to be edges and not yet reported.
	last, pending [2]int16
	// slot is 1 + the index of the descriptor in the current call's list
	// (0 when not in it).
	slot int32
}

// Directions and the reset, as edgeState.again bits.
const (
	againRead  = 1 << 0
	againWrite = 1 << 1
	againReset = 1 << 2
)

// dirIndex is the index of a direction in edgeState.last and pending.
func dirIndex(write bool) int {
	if write {
		return 1
	}
	return 0
}

// edgeRead notes a read of f that took n bytes and gave errno (a peek
// that found something is not one): EAGAIN re-arms reading (what arrives
// next is new); on a stream what it took is no longer unread; a datagram
// socket's queue cannot be counted in bytes, and a listener's not at all,
// so after a datagram or a connection is taken, what is still queued
// counts as new (edgeAccept).
func (f *File) edgeRead(n int, errno Errno) {
	if f.edge != nil {
		f.edge.read(f, n, errno)
	}
}

func (e *edgeState) read(f *File, n int, errno Errno) {
	switch {
	case errno == EAGAIN:
		e.again.Or(againRead)
	case errno != 0:
	case f.Type == FiletypeSocketDgram:
		e.again.Or(againRead)
	default:
		e.unread.Add(-int64(n))
	}
}

// edgeWrite notes a write of n of the want bytes of f that gave errno:
// EAGAIN, or a short write to a stream (the buffer filled), re-arms
// writing, so room found later is an edge.
func (f *File) edgeWrite(n, want int, errno Errno) {
	if f.edge != nil && (errno == EAGAIN || errno == 0 && n < want && f.Type != FiletypeSocketDgram) {
		f.edge.again.Or(againWrite)
	}
}

// edgeAccept notes an accept on listener f, taken or EAGAIN: either way
// the connections still queued (if any) are reported at the next call.
func (f *File) edgeAccept() {
	if f.edge != nil {
		f.edge.again.Or(againRead)
	}
}

// edgeConnect notes a connect of f: it starts afresh, as a descriptor
// subscribed for the first time (an unconnected socket may have looked
// hung up).
func (f *File) edgeConnect() {
	if f.edge != nil {
		f.edge.again.Or(againReset)
	}
}
