//go:build darwin

package sys

import "golang.org/x/sys/unix"

// Edge-poll event masks per direction, as poll(2) bits.
const (
	epollRead  = unix.POLLIN | unix.POLLHUP | unix.POLLERR
	epollWrite = unix.POLLOUT | unix.POLLHUP | unix.POLLERR
)

// Arm: epoll_oneoff is not implemented on macOS yet (it would be a kqueue
// with EV_CLEAR); poll_oneoff is.
func (e *EdgePoller) Arm(f *File) (int, Errno) { return -1, ENOSYS }

// Harvest has nothing to harvest without Arm.
func (e *EdgePoller) Harvest() Errno { return ESUCCESS }
