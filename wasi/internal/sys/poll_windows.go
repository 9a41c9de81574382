package sys

import (
	"context"
	"math"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Waiting for descriptors and clocks on Windows.
//
// Only sockets can be waited on: WSAPoll takes sockets alone. Everything
// else (regular files, the console, pipes, NUL) is reported ready at once
// (AlwaysReady), as wazero does on Windows; the guest's read or write then
// waits for it. A guest that polls stdin with a timeout therefore sees it
// ready immediately and its read blocks until input comes.
//
// A Poller makes one WSAPoll per wait (repeated only when it wakes before
// the deadline), with the earliest deadline as its timeout, rounded up to
// the millisecond: a guest that sleeps or waits on idle sockets costs no
// CPU. Without sockets the wait is a timer. Deadlines on the realtime
// clock become monotonic ones when the wait starts: a change of the wall
// clock while waiting is not seen (as on macOS). Cancellation: a UDP
// socket on loopback connected to itself is in the poll set, and ctx's
// cancellation sends it a datagram.

// PollFd is one entry of a poll set: a socket, pipe or console handle,
// the events to wait for and those found.
type PollFd struct {
	Fd      uintptr
	Events  int16
	Revents int16
	kind    hostKind
}

// wsaPollFd is Winsock's WSAPOLLFD.
type wsaPollFd struct {
	fd      uintptr
	events  int16
	revents int16
}

// NewPollFd is the poll set entry waiting for events on socket fd.
func NewPollFd(fd int, events int16) PollFd {
	return PollFd{Fd: uintptr(fd), Events: events, kind: kindSocket}
}

// PollFd is the poll set entry waiting for events on f.
func (f *File) PollFd(events int16) PollFd {
	if f.Sock != nil {
		return NewPollFd(f.Fd, events)
	}
	var h uintptr
	if f.host.file != nil {
		h = f.host.file.Fd()
	}
	return PollFd{Fd: h, Events: events, kind: f.host.kind}
}

// Poll events, WSAPoll's: reading is POLLRDNORM (WSAPoll refuses
// POLLPRI, and POLLRDBAND on some sockets).
const (
	PollIn   = 0x0100
	PollOut  = 0x0010
	PollErr  = 0x0001
	PollHup  = 0x0002
	PollNval = 0x0004
)

// PollRdhup: Windows has no separate read hang-up event.
const PollRdhup = 0

var (
	ws2           = windows.NewLazySystemDLL("ws2_32.dll")
	procWSAPoll   = ws2.NewProc("WSAPoll")
	procIoctlsock = ws2.NewProc("ioctlsocket")
	procAccept    = ws2.NewProc("accept")
)

// wsaPoll is WSAPoll(2): the number of ready entries.
func wsaPoll(fds []wsaPollFd, timeoutMs int32) (int, error) {
	if len(fds) == 0 {
		return 0, nil
	}
	r, _, err := procWSAPoll.Call(uintptr(unsafe.Pointer(&fds[0])), uintptr(len(fds)), uintptr(timeoutMs))
	if int32(r) < 0 {
		return 0, err
	}
	return int(int32(r)), nil
}

// ioctlsocket is ioctlsocket(2).
func ioctlsocket(s windows.Handle, cmd uint32, arg *uint32) error {
	r, _, err := procIoctlsock.Call(uintptr(s), uintptr(cmd), uintptr(unsafe.Pointer(arg)))
	if r != 0 {
		return err
	}
	return nil
}

// ioctlsocket commands.
const (
	fionread = 0x4004667f
	fionbio  = 0x8004667e
)

// Poller waits for sockets and deadlines. One Poller serves one guest;
// Wait may be called from several goroutines at once.
type Poller struct {
	mu     sync.Mutex
	wake   windows.Handle // UDP socket signalled on cancellation, 0 until needed
	closed bool
}

// NewPoller returns a Poller. It holds no socket until a Wait needs one.
func NewPoller() *Poller { return &Poller{} }

// Close releases the Poller's socket. Waits must have returned.
func (p *Poller) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.wake != 0 {
		err := windows.Closesocket(p.wake)
		p.wake = 0
		return err
	}
	return nil
}

// wakeSocket returns the cancellation socket, creating it on first use: a
// non-blocking UDP socket bound to 127.0.0.1 and connected to itself.
func (p *Poller) wakeSocket() (windows.Handle, Errno) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, EBADF
	}
	if p.wake != 0 {
		return p.wake, ESUCCESS
	}
	s, err := windows.Socket(windows.AF_INET, windows.SOCK_DGRAM, windows.IPPROTO_UDP)
	if err != nil {
		return 0, ErrnoFromError(err)
	}
	one := uint32(1)
	err = windows.Bind(s, &windows.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
	if err == nil {
		var sa windows.Sockaddr
		if sa, err = windows.Getsockname(s); err == nil {
			if err = windows.Connect(s, sa); err == nil {
				err = ioctlsocket(s, fionbio, &one)
			}
		}
	}
	if err != nil {
		windows.Closesocket(s)
		return 0, ErrnoFromError(err)
	}
	p.wake = s
	return s, ESUCCESS
}

func (p *Poller) signal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.wake != 0 {
		one := byte(1)
		var n uint32
		windows.WSASend(p.wake, &windows.WSABuf{Len: 1, Buf: &one}, 1, &n, 0, nil, nil)
	}
}

// drainWake empties the cancellation socket.
func drainWake(s windows.Handle) {
	var buf [16]byte
	for {
		if _, _, err := windows.Recvfrom(s, buf[:], 0); err != nil {
			return
		}
	}
}

// Wait blocks until at least one of fds is ready (its Revents are set),
// the earliest of timers has expired, or ctx is done, and returns the
// number of fds with Revents set (0 when only a timer ended the wait).
// With no timers it may wait forever; a timer already expired makes Wait
// a non-blocking check of fds. A done ctx gives ECANCELED; a timer on
// another clock than ClockMonotonic or ClockRealtime gives EINVAL.
// Sockets are waited for in WSAPoll; pipes and consoles are looked at
// before each WSAPoll, which then waits streamTick at most.
func (p *Poller) Wait(ctx context.Context, fds []PollFd, timers []Timer) (int, Errno) {
	if ctx.Err() != nil {
		return 0, ECANCELED
	}
	deadline, hasDeadline := int64(math.MaxInt64), false
	for _, t := range timers {
		at := t.At
		switch t.Clock {
		case ClockMonotonic:
		case ClockRealtime:
			now, _ := Now(ClockRealtime)
			at = AddSaturated(nanotime(), uint64(max(t.At-now, 0)))
		default:
			return 0, EINVAL
		}
		deadline, hasDeadline = min(deadline, at), true
	}
	if len(fds) == 0 {
		return 0, sleepUntil(ctx, deadline, hasDeadline)
	}

	// The WSAPoll set: the sockets of fds (index in sockIdx), then the
	// cancellation socket.
	var setBuf [8]wsaPollFd
	var idxBuf [8]int
	set, sockIdx := setBuf[:0], idxBuf[:0]
	streams := false
	for i := range fds {
		if fds[i].kind == kindSocket {
			set = append(set, wsaPollFd{fd: fds[i].Fd, events: fds[i].Events})
			sockIdx = append(sockIdx, i)
		} else {
			streams = true
		}
	}
	wakeIdx := -1
	if ctx.Done() != nil && (!hasDeadline || deadline > nanotime()) {
		wake, errno := p.wakeSocket()
		if errno != 0 {
			return 0, errno
		}
		stop := context.AfterFunc(ctx, p.signal)
		defer stop()
		wakeIdx = len(set)
		set = append(set, wsaPollFd{fd: uintptr(wake), events: PollIn})
	}
	for {
		ready := 0
		for i := range fds {
			fds[i].Revents = 0
			if fds[i].kind != kindSocket {
				if fds[i].Revents = streamRevents(fds[i].kind, windows.Handle(fds[i].Fd), fds[i].Events); fds[i].Revents != 0 {
					ready++
				}
			}
		}
		timeout := int32(-1)
		if hasDeadline {
			d := max(deadline-nanotime(), 0)
			timeout = int32(min((d+int64(time.Millisecond)-1)/int64(time.Millisecond), math.MaxInt32))
		}
		if streams && (timeout < 0 || timeout > streamTickMs) {
			timeout = streamTickMs
		}
		if ready > 0 {
			timeout = 0
		}
		for i := range set {
			set[i].revents = 0
		}
		var n int
		if len(set) > 0 {
			var err error
			if n, err = wsaPoll(set, timeout); err != nil {
				return 0, ErrnoFromError(err)
			}
		} else if timeout > 0 {
			// Only streams, and no context to end the wait: a tick.
			time.Sleep(time.Duration(timeout) * time.Millisecond)
		}
		for k, i := range sockIdx {
			if fds[i].Revents = set[k].revents; fds[i].Revents != 0 {
				ready++
			}
		}
		if ready > 0 {
			return ready, ESUCCESS
		}
		if wakeIdx >= 0 && set[wakeIdx].revents != 0 {
			drainWake(windows.Handle(set[wakeIdx].fd))
			if ctx.Err() != nil {
				return 0, ECANCELED
			}
			continue // a late signal from an earlier wait
		}
		if n == 0 && hasDeadline && nanotime() >= deadline {
			return 0, ESUCCESS
		}
	}
}

// streamTickMs is how often a wait looks at pipes and consoles.
const streamTickMs = 10

// sleepUntil waits for the monotonic deadline (forever without one) or
// for ctx.
func sleepUntil(ctx context.Context, deadline int64, hasDeadline bool) Errno {
	if !hasDeadline {
		<-ctx.Done()
		return ECANCELED
	}
	for {
		d := deadline - nanotime()
		if d <= 0 {
			return ESUCCESS
		}
		t := time.NewTimer(time.Duration(d))
		select {
		case <-ctx.Done():
			t.Stop()
			return ECANCELED
		case <-t.C:
		}
	}
}

// AlwaysReady reports whether f needs no wait: everything but a socket,
// a pipe and a console (see stream_windows.go).
func (f *File) AlwaysReady() bool { return f.Sock == nil && f.host.kind == kindOther }

// Readable returns the number of bytes a read of f would find now: for a
// regular file the bytes after the offset, for a socket what FIONREAD
// says, for a pipe what PeekNamedPipe says, 0 for anything else.
func (f *File) Readable() uint64 {
	if f.Sock != nil {
		var n uint32
		if ioctlsocket(windows.Handle(f.Fd), fionread, &n) != nil {
			return 0
		}
		return uint64(n)
	}
	if f.host.file == nil {
		return 0
	}
	if f.host.kind == kindPipe {
		n, _, _ := pipeAvailable(windows.Handle(f.host.file.Fd()))
		return uint64(n)
	}
	if f.Type != FiletypeRegularFile {
		return 0
	}
	st, err := f.host.file.Stat()
	if err != nil {
		return 0
	}
	off, err := f.host.file.Seek(0, 1)
	if err != nil || off >= st.Size() {
		return 0
	}
	return uint64(st.Size() - off)
}
