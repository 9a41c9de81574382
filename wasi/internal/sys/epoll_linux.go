package sys

import (
	"sync"

	"golang.org/x/sys/unix"
)

// EdgePoller keeps the edge-triggered readiness state behind epoll_oneoff:
// one epoll instance per guest in which every descriptor the guest ever
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

// Edge-poll event masks per direction: a read subscription is told about
// input and hang-ups, a write subscription about room and errors.
const (
	epollRead  = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLHUP | unix.EPOLLERR
	epollWrite = unix.EPOLLOUT | unix.EPOLLHUP | unix.EPOLLERR
)

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
	err := unix.Close(e.epfd)
	e.epfd = -1
	return err
}

// Arm registers f if it is not registered yet and returns the epoll
// descriptor to wait on.
func (e *EdgePoller) Arm(f *File) (int, Errno) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.epfd < 0 {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return -1, ErrnoFromError(err)
		}
		e.epfd = fd
	}
	if e.files[f.Fd] == f {
		return e.epfd, ESUCCESS
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(f.Fd)}
	err := unix.EpollCtl(e.epfd, unix.EPOLL_CTL_ADD, f.Fd, &ev)
	if err == unix.EEXIST {
		// The same host number for another File (the old one was closed
		// while a dup kept it registered): re-arm, which reports its
		// current state afresh.
		err = unix.EpollCtl(e.epfd, unix.EPOLL_CTL_MOD, f.Fd, &ev)
	}
	if err != nil {
		return -1, ErrnoFromError(err)
	}
	e.files[f.Fd] = f
	delete(e.pending, f.Fd)
	return e.epfd, ESUCCESS
}

// Harvest moves every event the kernel has queued into the pending set,
// without waiting.
func (e *EdgePoller) Harvest() Errno {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.epfd < 0 {
		return ESUCCESS
	}
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(e.epfd, events, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return ErrnoFromError(err)
		}
		for _, ev := range events[:n] {
			if _, ok := e.files[int(ev.Fd)]; ok {
				e.pending[int(ev.Fd)] |= ev.Events
			}
		}
		if n < len(events) {
			return ESUCCESS
		}
	}
}

// Pending returns the pending events of f for one direction, as poll(2)
// revents (the EPOLL* and POLL* bits are the same on Linux), or 0.
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
