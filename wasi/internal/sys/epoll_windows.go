package sys

// Edge-poll event masks per direction, as poll bits.
const (
	epollRead  = PollIn | PollHup | PollErr
	epollWrite = PollOut | PollHup | PollErr
)

// Arm: epoll_oneoff is not implemented on Windows (ENOSYS); poll_oneoff is.
func (e *EdgePoller) Arm(f *File) (int, Errno) { return -1, ENOSYS }

// Harvest has nothing to harvest without Arm.
func (e *EdgePoller) Harvest() Errno { return ESUCCESS }
