//go:build linux

package sys

import "golang.org/x/sys/unix"

// Edge-poll event masks per direction: a read subscription is told about
// input and hang-ups, a write subscription about room and errors.
const (
	epollRead  = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLHUP | unix.EPOLLERR
	epollWrite = unix.EPOLLOUT | unix.EPOLLHUP | unix.EPOLLERR
)

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
