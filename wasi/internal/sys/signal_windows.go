package sys

import (
	"syscall"

	"golang.org/x/sys/windows"
)

// Signals on Windows: Go's os/signal turns Ctrl-C and Ctrl-Break into
// SIGINT, and closing the console, logging off and shutting down into
// SIGTERM; the other signals never come. The signal "pipe" is a pair of
// UDP sockets on loopback connected to each other (WSAPoll waits on
// sockets only): the guest's end accepts datagrams from the host's end
// alone, so no other process can send the guest a signal.

// SignalAllowed reports whether a guest may subscribe to sig: SIGINT and
// SIGTERM, the two Windows delivers.
func SignalAllowed(sig int) bool {
	switch syscall.Signal(sig) {
	case syscall.SIGINT, syscall.SIGTERM:
		return true
	}
	return false
}

// sigWriter is the host's end of the signal pipe, and its own handle of
// the guest's end, for FIONREAD (the guest may close its own).
type sigWriter struct{ w, r windows.Handle }

// noSigWriter is no pipe.
var noSigWriter = sigWriter{}

// newSigPipe makes the socket pair (see above): the guest's end as a
// File, blocking, and the host's end, non-blocking.
func newSigPipe() (_ *File, _ sigWriter, errno Errno) {
	var h [2]windows.Handle
	var addrs [2]windows.Sockaddr
	defer func() {
		if errno != 0 {
			for _, s := range h {
				if s != 0 {
					windows.Closesocket(s)
				}
			}
		}
	}()
	for i := range h {
		s, err := windows.WSASocket(windows.AF_INET, windows.SOCK_DGRAM, 0, nil, 0, wsaFlagNoHandleInherit)
		if err != nil {
			return nil, noSigWriter, ErrnoFromError(err)
		}
		h[i] = s
		if err := windows.Bind(s, &windows.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			return nil, noSigWriter, ErrnoFromError(err)
		}
		if addrs[i], err = windows.Getsockname(s); err != nil {
			return nil, noSigWriter, ErrnoFromError(err)
		}
	}
	for i := range h {
		if err := windows.Connect(h[i], addrs[1-i]); err != nil {
			return nil, noSigWriter, ErrnoFromError(err)
		}
	}
	on := uint32(1)
	if err := ioctlsocket(h[1], fionbio, &on); err != nil {
		return nil, noSigWriter, ErrnoFromError(err)
	}
	r, err := dupSocket(h[0])
	if err != nil {
		return nil, noSigWriter, ErrnoFromError(err)
	}
	return &File{Fd: int(h[0]), Sock: &Socket{Family: AFInet4, Type: SockDgram}}, sigWriter{w: h[1], r: r}, ESUCCESS
}

// unread is the number of bytes waiting at the guest's end.
func (w sigWriter) unread() (int, error) {
	var n uint32
	err := ioctlsocket(w.r, fionread, &n)
	return int(n), err
}

// send sends b to the guest's end.
func (w sigWriter) send(b byte) error {
	var n uint32
	return windows.WSASend(w.w, &windows.WSABuf{Len: 1, Buf: &b}, 1, &n, 0, nil, nil)
}

// close closes the host's sockets, if any.
func (w sigWriter) close() {
	if w != noSigWriter {
		windows.Closesocket(w.w)
		windows.Closesocket(w.r)
	}
}
