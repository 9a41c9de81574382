//go:build linux || darwin

package sys

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// SignalAllowed reports whether a guest may subscribe to sig.
func SignalAllowed(sig int) bool {
	switch syscall.Signal(sig) {
	case unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGTERM:
		return true
	}
	return false
}

// sigWriter is the host's end of the signal pipe: a pipe's write end.
type sigWriter int

// noSigWriter is no pipe.
const noSigWriter sigWriter = -1

// newSigPipe makes a pipe for signal deliveries: the guest's read end as
// a File, and the host's end, non-blocking.
func newSigPipe() (*File, sigWriter, Errno) {
	var p [2]int
	if err := pipeCloexec(p[:]); err != nil {
		return nil, noSigWriter, ErrnoFromError(err)
	}
	if err := unix.SetNonblock(p[1], true); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return nil, noSigWriter, ErrnoFromError(err)
	}
	return &File{Fd: p[0]}, sigWriter(p[1]), ESUCCESS
}

// unread is the number of bytes in the pipe.
func (w sigWriter) unread() (int, error) { return unix.IoctlGetInt(int(w), ioctlFIONREAD) }

// send writes b to the pipe.
func (w sigWriter) send(b byte) error {
	_, err := unix.Write(int(w), []byte{b})
	return err
}

// close closes the host's end, if any.
func (w sigWriter) close() {
	if w >= 0 {
		unix.Close(int(w))
	}
}
