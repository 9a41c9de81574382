//go:build linux && !darwinemul

package sys

import (
	"context"
	"sync"

	"golang.org/x/sys/unix"
)

// EdgePoller on Linux: one epoll instance per guest in which every
// descriptor the guest ever subscribed to is registered with EPOLLET for
// both directions (see epoll.go). The epoll descriptor itself is pollable:
// a blocking Wait is one Poller.Wait on it. (With the darwinemul build tag
// the emulation of macOS, epoll_emul.go, replaces it.)
type EdgePoller struct {
	mu   sync.Mutex
	epfd int // -1 until needed
	// files are the registered host descriptors and the File each was
	// registered for (a closed descriptor leaves epoll by itself; a new
	// File with the same host number must be registered again).
	files map[int]*File
	// pending are events seen and not yet reported, by host descriptor.
	pending map[int]uint32
	// armed: a descriptor was armed in the current call (a call with
	// clocks alone does not wait on the epoll descriptor).
	armed bool
	// set is the poll set of a wait, with room for the Poller's own.
	set [3]PollFd
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
	err := closeFD(e.epfd)
	e.epfd = -1
	return err
}

// Arm registers f (for both directions, whichever write says) if it is
// not registered yet.
func (e *EdgePoller) Arm(f *File, write bool) Errno {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.epfd < 0 {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return ErrnoFromError(err)
		}
		e.epfd = fd
	}
	e.armed = true
	if e.files[f.Fd] == f {
		return ESUCCESS
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
		return ErrnoFromError(err)
	}
	e.files[f.Fd] = f
	delete(e.pending, f.Fd)
	return ESUCCESS
}

// Wait moves every event the kernel has queued into the pending set;
// with block, it first waits with p until the epoll descriptor is ready
// (when something was armed), a timer expires or ctx is done (ECANCELED).
func (e *EdgePoller) Wait(ctx context.Context, p *Poller, timers []Timer, block bool) Errno {
	if block {
		var fds []PollFd
		e.mu.Lock()
		if e.armed && e.epfd >= 0 {
			e.set[0] = NewPollFd(e.epfd, PollIn)
			fds = e.set[:1]
		}
		e.mu.Unlock()
		if _, errno := p.Wait(ctx, fds, timers); errno != 0 {
			return errno
		}
	}
	return e.harvest()
}

// harvest moves every event the kernel has queued into the pending set,
// without waiting.
func (e *EdgePoller) harvest() Errno {
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

// Done ends a call.
func (e *EdgePoller) Done() {
	e.mu.Lock()
	e.armed = false
	e.mu.Unlock()
}
