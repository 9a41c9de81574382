//go:build darwin || windows || (linux && darwinemul)

package sys

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// edgeLoopback is 127.0.0.1.
var edgeLoopback = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// The emulated EdgePoller (epoll_emul.go) on loopback sockets, through the
// System alone: on Linux with the darwinemul build tag, and for Windows
// under Wine (GOOS=windows go test -c).

// edgeSub is one fd subscription of an edgeOneoff.
type edgeSub struct {
	f     *File
	write bool
}

// edgeOneoff does what epoll_oneoff does with subs and a clock of timeout:
// it returns the events reported per subscription (0: none) and how long
// it waited.
func edgeOneoff(t *testing.T, e *EdgePoller, p *Poller, timeout time.Duration, subs ...edgeSub) ([]int16, time.Duration) {
	t.Helper()
	start := time.Now()
	for _, s := range subs {
		if errno := e.Arm(s.f, s.write); errno != 0 {
			t.Fatalf("arm: %s", errno.Name())
		}
	}
	defer e.Done()
	now, _ := Now(ClockMonotonic)
	timers := []Timer{{Clock: ClockMonotonic, At: now + int64(timeout)}}
	revents := make([]int16, len(subs))
	for block := false; ; block = true {
		if errno := e.Wait(context.Background(), p, timers, block); errno != 0 {
			t.Fatalf("wait: %s", errno.Name())
		}
		found := false
		for i, s := range subs {
			revents[i] = e.Pending(s.f, s.write)
			found = found || revents[i] != 0
		}
		if found || timers[0].Expired() {
			break
		}
	}
	for i, s := range subs {
		if revents[i] != 0 {
			e.Consume(s.f, s.write)
		}
	}
	return revents, time.Since(start)
}

// edgeSetup returns a System, an EdgePoller and a Poller, closed when t
// ends.
func edgeSetup(t *testing.T) (*System, *EdgePoller, *Poller) {
	s, e, p := &System{}, NewEdgePoller(), NewPoller()
	t.Cleanup(func() {
		e.Close()
		p.Close()
		s.Close()
	})
	return s, e, p
}

// edgeSocket returns a non-blocking socket of type st bound to 127.0.0.1,
// and its address.
func edgeSocket(t *testing.T, s *System, st SockType) (int32, *File, Addr) {
	t.Helper()
	fd, errno := s.SockOpen(AFInet4, st)
	if errno != 0 {
		t.Fatal(errno.Name())
	}
	if errno := s.SockBind(fd, Addr{Family: AFInet4, IP: edgeLoopback}); errno != 0 {
		t.Fatalf("bind: %s", errno.Name())
	}
	s.SetFlags(fd, FdflagNonblock)
	a, _ := s.SockLocalAddr(fd)
	f, _ := s.Lookup(fd)
	return fd, f, a
}

// edgePair returns a connected pair of non-blocking TCP sockets on
// loopback: the accepted side and the client.
func edgePair(t *testing.T, s *System) (accepted, client *File) {
	t.Helper()
	must := func(errno Errno, what string) {
		t.Helper()
		if errno != 0 && errno != EINPROGRESS {
			t.Fatalf("%s: %s", what, errno.Name())
		}
	}
	l, errno := s.SockOpen(AFInet4, SockStream)
	must(errno, "sock_open")
	lo := Addr{Family: AFInet4, IP: edgeLoopback}
	must(s.SockBind(l, lo), "bind")
	must(s.SockListen(l, 8), "listen")
	la, errno := s.SockLocalAddr(l)
	must(errno, "getlocaladdr")
	c, errno := s.SockOpen(AFInet4, SockStream)
	must(errno, "sock_open")
	must(s.SetFlags(c, FdflagNonblock), "set non-blocking")
	lo.Port = la.Port
	must(s.SockConnect(c, lo), "connect")
	a, errno := s.SockAccept(l, FdflagNonblock)
	must(errno, "accept")
	af, _ := s.Lookup(a)
	cf, _ := s.Lookup(c)
	return af, cf
}

// sendLater writes data to fd after 50 ms, while the caller waits, and
// closes the channel it returns when done (the System's calls use its
// scratch space: no other call may run meanwhile).
func sendLater(s *System, fd int32, data string) <-chan struct{} {
	done := make(chan struct{})
	time.AfterFunc(50*time.Millisecond, func() {
		defer close(done)
		s.Write(fd, [][]byte{[]byte(data)})
	})
	return done
}

// expectEvent checks one subscription's result: want an event with the
// bits of want (any event for -1), or none for 0.
func expectEvent(t *testing.T, what string, got int16, want int16) {
	t.Helper()
	switch {
	case want == 0 && got != 0:
		t.Errorf("%s: reported %#x, want nothing", what, got)
	case want == -1 && got == 0, want > 0 && got&want != want:
		t.Errorf("%s: reported %#x, want %#x", what, got, want)
	}
}

// TestEdgePollerEmulated: each descriptor is reported once per change of
// readiness, including input that arrives after the guest read until
// EAGAIN and before its next call (the missed wake-up).
func TestEdgePollerEmulated(t *testing.T) {
	s, e, p := edgeSetup(t)
	a, c := edgePair(t, s)
	fd := func(f *File) int32 {
		var n int32 = -1
		s.FDs.Range(func(i int32, g *File) bool {
			if g == f {
				n = i
			}
			return n < 0
		})
		return n
	}
	ad, cd := fd(a), fd(c)
	send := func(data string) {
		t.Helper()
		if n, errno := s.Write(cd, [][]byte{[]byte(data)}); errno != 0 || int(n) != len(data) {
			t.Fatalf("send %q: %d, %s", data, n, errno.Name())
		}
	}
	read, write := edgeSub{a, false}, edgeSub{a, true}
	short, long := 50*time.Millisecond, 5*time.Second

	// Writable: once, at the first subscription.
	ev, _ := edgeOneoff(t, e, p, long, write)
	expectEvent(t, "first write subscription", ev[0], PollOut)
	ev, d := edgeOneoff(t, e, p, short, write)
	expectEvent(t, "still writable", ev[0], 0)
	if d < 40*time.Millisecond {
		t.Errorf("a wait with nothing to report ended after %v", d)
	}

	// Readable: when input arrives, not again while it sits unread, and
	// again when more arrives, before a call or during its wait.
	ev, _ = edgeOneoff(t, e, p, short, read)
	expectEvent(t, "nothing to read", ev[0], 0)
	send("a")
	ev, _ = edgeOneoff(t, e, p, long, read)
	expectEvent(t, "input", ev[0], PollIn)
	ev, _ = edgeOneoff(t, e, p, short, read, write)
	expectEvent(t, "unread input", ev[0], 0)
	expectEvent(t, "writable, read subscribed too", ev[1], 0)
	send("b")
	ev, _ = edgeOneoff(t, e, p, long, read)
	expectEvent(t, "more input before the call", ev[0], PollIn)
	sent := sendLater(s, cd, "c")
	ev, d = edgeOneoff(t, e, p, long, read)
	<-sent
	expectEvent(t, "more input during the wait", ev[0], PollIn)
	if d > 2*time.Second {
		t.Errorf("more input during the wait reported after %v", d)
	}
	if n := a.Readable(); n != 3 {
		t.Fatalf("FIONREAD = %d, want 3", n)
	}

	// A partial read, then input of fewer bytes than were read.
	buf := make([]byte, 64)
	if n, errno := s.Read(ad, [][]byte{buf[:2]}); n != 2 || errno != 0 {
		t.Fatalf("read: %d, %s", n, errno.Name())
	}
	ev, _ = edgeOneoff(t, e, p, short, read)
	expectEvent(t, "input left after a partial read", ev[0], 0)
	send("d")
	ev, _ = edgeOneoff(t, e, p, long, read)
	expectEvent(t, "input after a partial read", ev[0], PollIn)

	// The missed wake-up: read until EAGAIN, input arrives, then the call.
	drain := func() {
		t.Helper()
		for {
			_, errno := s.Read(ad, [][]byte{buf})
			if errno == EAGAIN {
				return
			}
			if errno != 0 {
				t.Fatalf("read: %s", errno.Name())
			}
		}
	}
	drain()
	send("e")
	time.Sleep(20 * time.Millisecond) // delivered on loopback
	ev, d = edgeOneoff(t, e, p, long, read)
	expectEvent(t, "input after EAGAIN, before the call", ev[0], PollIn)
	if d > time.Second {
		t.Errorf("input after EAGAIN reported after %v", d)
	}
	// The same with SockRecv, and the input arriving during the wait.
	if _, _, errno := s.SockRecv(ad, [][]byte{buf}, 0); errno != 0 {
		t.Fatalf("recv: %s", errno.Name())
	}
	if _, _, errno := s.SockRecv(ad, [][]byte{buf}, 0); errno != EAGAIN {
		t.Fatalf("recv of nothing: %s, want EAGAIN", errno.Name())
	}
	sent = sendLater(s, cd, "f")
	ev, d = edgeOneoff(t, e, p, long, read)
	<-sent
	expectEvent(t, "input after EAGAIN, during the wait", ev[0], PollIn)
	if d > time.Second {
		t.Errorf("input during the wait reported after %v", d)
	}
	drain()

	// Writable again only after it was full.
	chunk := make([]byte, 64<<10)
	full := false
	for i := 0; i < 4096 && !full; i++ {
		_, errno := s.Write(ad, [][]byte{chunk})
		full = errno == EAGAIN
		if errno != 0 && !full {
			t.Fatalf("write: %s", errno.Name())
		}
	}
	if !full {
		t.Fatal("the send buffer never filled")
	}
	ev, _ = edgeOneoff(t, e, p, short, write)
	expectEvent(t, "full", ev[0], 0)
	// The peer reads meanwhile (no other call of the System until done).
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 64<<10)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, errno := s.Read(cd, [][]byte{b}); errno == EAGAIN {
				time.Sleep(time.Millisecond)
			} else if errno != 0 {
				return
			}
		}
	}()
	ev, _ = edgeOneoff(t, e, p, long, write)
	expectEvent(t, "room after full", ev[0], PollOut)
	time.Sleep(200 * time.Millisecond) // the reader empties it
	close(stop)
	<-done
	ev, _ = edgeOneoff(t, e, p, short, write)
	expectEvent(t, "room, not full since", ev[0], 0)

	// The peer hangs up: one read event, then none. (The input is read
	// first: Wine's WSAPoll shows no hang-up behind unread input.)
	send("g")
	time.Sleep(20 * time.Millisecond)
	ev, _ = edgeOneoff(t, e, p, long, read)
	expectEvent(t, "input before the hang-up", ev[0], PollIn)
	if n, errno := s.Read(ad, [][]byte{buf}); n != 1 || errno != 0 {
		t.Fatalf("read: %d, %s", n, errno.Name())
	}
	s.CloseFD(cd)
	ev, _ = edgeOneoff(t, e, p, long, read)
	if ev[0]&(PollHup|PollRdhup) == 0 {
		t.Errorf("hang-up: reported %#x, want a hang-up", ev[0])
	}
	ev, _ = edgeOneoff(t, e, p, short, read)
	expectEvent(t, "after the hang-up", ev[0], 0)

	// Cancellation ends a wait on the descriptor at once.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	e.Arm(a, false)
	start := time.Now()
	errno := e.Wait(ctx, p, nil, true)
	for errno == 0 && ctx.Err() == nil {
		errno = e.Wait(ctx, p, nil, true)
	}
	e.Done()
	if errno != ECANCELED || time.Since(start) > 2*time.Second {
		t.Errorf("cancelled wait: %s after %v", errno.Name(), time.Since(start))
	}
}

// TestEdgePollerListener: a listener is reported when a connection
// arrives, and again after an accept while more are queued; a connect
// starts afresh.
func TestEdgePollerListener(t *testing.T) {
	s, e, p := edgeSetup(t)
	l, lf, la := edgeSocket(t, s, SockStream)
	s.SockListen(l, 8)
	short, long := 50*time.Millisecond, 5*time.Second

	ev, _ := edgeOneoff(t, e, p, short, edgeSub{lf, false})
	expectEvent(t, "no connection", ev[0], 0)
	dial := func() *File {
		c, _ := s.SockOpen(AFInet4, SockStream)
		s.SetFlags(c, FdflagNonblock)
		cf, _ := s.Lookup(c)
		// The connect starts afresh, even subscribed before (Linux's poll
		// says an unconnected socket is writable and hung up; WSAPoll
		// says nothing).
		edgeOneoff(t, e, p, short, edgeSub{cf, true})
		if errno := s.SockConnect(c, Addr{Family: AFInet4, IP: edgeLoopback, Port: la.Port}); errno != 0 && errno != EINPROGRESS {
			t.Fatalf("connect: %s", errno.Name())
		}
		ev, _ = edgeOneoff(t, e, p, long, edgeSub{cf, true})
		expectEvent(t, "connected", ev[0], PollOut)
		return cf
	}
	dial()
	ev, _ = edgeOneoff(t, e, p, long, edgeSub{lf, false})
	expectEvent(t, "a connection", ev[0], PollIn)
	ev, _ = edgeOneoff(t, e, p, short, edgeSub{lf, false})
	expectEvent(t, "the same connection", ev[0], 0)
	dial()
	time.Sleep(20 * time.Millisecond)
	// One accepted, one still queued: reported again.
	if _, errno := s.SockAccept(l, 0); errno != 0 {
		t.Fatalf("accept: %s", errno.Name())
	}
	ev, _ = edgeOneoff(t, e, p, long, edgeSub{lf, false})
	expectEvent(t, "a connection still queued after an accept", ev[0], PollIn)
	if _, errno := s.SockAccept(l, 0); errno != 0 {
		t.Fatalf("accept: %s", errno.Name())
	}
	if _, errno := s.SockAccept(l, 0); errno != EAGAIN {
		t.Fatalf("accept of nothing: %s, want EAGAIN", errno.Name())
	}
	// A connection arriving after EAGAIN, before the call (the last look
	// saw one queued: only the EAGAIN tells this one is new).
	dial()
	time.Sleep(20 * time.Millisecond)
	ev, _ = edgeOneoff(t, e, p, long, edgeSub{lf, false})
	expectEvent(t, "a connection after EAGAIN", ev[0], PollIn)
	s.SockAccept(l, 0)
	s.SockAccept(l, 0)
	ev, _ = edgeOneoff(t, e, p, short, edgeSub{lf, false})
	expectEvent(t, "nothing queued", ev[0], 0)
}

// TestEdgePollerDatagrams: a datagram socket is reported when a datagram
// arrives; after each one received, what is still queued is reported
// again (its queue is not counted in bytes); after EAGAIN, the next
// datagram is.
func TestEdgePollerDatagrams(t *testing.T) {
	s, e, p := edgeSetup(t)
	r, rf, to := edgeSocket(t, s, SockDgram)
	w, _ := s.SockOpen(AFInet4, SockDgram)
	sub := edgeSub{rf, false}
	short, long := 50*time.Millisecond, 5*time.Second
	send := func(data string) {
		t.Helper()
		if _, errno := s.SockSendTo(w, [][]byte{[]byte(data)}, to, 0); errno != 0 {
			t.Fatalf("send_to: %s", errno.Name())
		}
	}
	recv := func(want Errno) {
		t.Helper()
		if _, _, errno := s.SockRecv(r, [][]byte{make([]byte, 16)}, 0); errno != want {
			t.Fatalf("recv: %s, want %s", errno.Name(), want.Name())
		}
	}

	ev, _ := edgeOneoff(t, e, p, short, sub)
	expectEvent(t, "nothing received", ev[0], 0)
	send("one")
	send("two")
	time.Sleep(20 * time.Millisecond)
	ev, _ = edgeOneoff(t, e, p, long, sub)
	expectEvent(t, "two datagrams", ev[0], PollIn)
	ev, _ = edgeOneoff(t, e, p, short, sub)
	expectEvent(t, "the same two", ev[0], 0)
	recv(0)
	ev, _ = edgeOneoff(t, e, p, long, sub)
	expectEvent(t, "one still queued after a receive", ev[0], PollIn)
	recv(0)
	recv(EAGAIN)
	send("three")
	time.Sleep(20 * time.Millisecond)
	ev, _ = edgeOneoff(t, e, p, long, sub)
	expectEvent(t, "a datagram after EAGAIN", ev[0], PollIn)
}

// TestEdgePollerNoSpin: descriptors that stay ready (writable, unread
// input, hung up) and were reported cannot make a wait spin: a guest
// waiting on them costs next to no CPU.
func TestEdgePollerNoSpin(t *testing.T) {
	s, e, p := edgeSetup(t)
	a, c := edgePair(t, s)
	a2, c2 := edgePair(t, s)
	var cd, c2d int32
	s.FDs.Range(func(i int32, f *File) bool {
		switch f {
		case c:
			cd = i
		case c2:
			c2d = i
		}
		return true
	})
	s.Write(cd, [][]byte{[]byte("unread")})
	s.CloseFD(c2d)
	time.Sleep(20 * time.Millisecond)
	subs := []edgeSub{{a, false}, {a, true}, {a2, false}, {a2, true}}
	edgeOneoff(t, e, p, 5*time.Second, subs...) // the first subscription: all reported
	cpu0, _ := Now(ClockProcessCPU)
	ev, d := edgeOneoff(t, e, p, 500*time.Millisecond, subs...)
	cpu, _ := Now(ClockProcessCPU)
	for i := range ev {
		expectEvent(t, "reported before", ev[i], 0)
	}
	if d < 450*time.Millisecond || time.Duration(cpu-cpu0) > 150*time.Millisecond {
		t.Errorf("a wait of %v used %v of CPU", d, time.Duration(cpu-cpu0))
	}
}
