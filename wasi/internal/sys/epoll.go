package sys

import (
	"sync"
)

// EdgePoller keeps the edge-triggered readiness state behind epoll_oneoff:
// on Linux (Arm and Harvest in epoll_linux.go) one epoll instance per guest in which every descriptor the guest ever
// subscribed to is registered with EPOLLET for both directions. The kernel
// then reports each descriptor once per change of readiness (new data, new
// room to write, a hang-up), not for as long as it stays ready; that is
// what mio-style guests built on epoll_oneoff expect. Events of a direction
// the guest did not ask for this time are kept as pending until it does.
//
// The epoll descriptor itself is pollable: the ABI layer waits on it with
// Poller.Wait, so deadlines and cancellation work as for poll_oneoff.
type EdgePoller struct {
	mu   sync.Mutex
	epfd int // -1 until needed
	// files are the registered host descriptors and the File each was
	// registered for (a closed descriptor leaves epoll by itself; a new
	// File with the same host number must be registered again).
	files map[int]*File
	// pending are events seen and not yet reported, by host descriptor.
	pending map[int]uint32
}

// NewEdgePoller returns an EdgePoller; it holds no descriptor until used.
func NewEdgePoller() *EdgePoller {
	return &EdgePoller{epfd: -1, files: map[int]*File{}, pending: map[int]uint32{}}
}

// Close releases the epoll instance.
func (e *EdgePoller) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.epfd < 0 {
		return nil
	}
	err := closeFD(e.epfd)
	e.epfd = -1
	return err
}

// Pending returns the pending events of f for one direction, as poll(2)
// revents (the EPOLL* and POLL* bits are the same on Linux; elsewhere
// the per-system Harvest stores POLL* bits), or 0.
func (e *EdgePoller) Pending(f *File, write bool) int16 {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.files[f.Fd] != f {
		return 0
	}
	mask := uint32(epollRead)
	if write {
		mask = epollWrite
	}
	return int16(e.pending[f.Fd] & mask)
}

// Consume forgets the pending events of f for one direction once they have
// been reported.
func (e *EdgePoller) Consume(f *File, write bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.files[f.Fd] != f {
		return
	}
	mask := uint32(epollRead)
	if write {
		mask = epollWrite
	}
	e.pending[f.Fd] &^= mask
}
