package sys

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"runtime"
	"testing"
)

// simApp is one app with simulated isolation: its own System and table.
type simApp struct {
	t *testing.T
	s *System
}

func newSimApp(t *testing.T, blocked ...netip.Prefix) *simApp {
	a := &simApp{t: t, s: &System{VPorts: NewVirtualPorts(blocked, nil)}}
	t.Cleanup(a.s.Close)
	return a
}

func (a *simApp) open(af Family, st SockType) int32 {
	fd, errno := a.s.SockOpen(af, st)
	if errno != 0 {
		a.t.Fatalf("sock_open: %v", errno)
	}
	return fd
}

// listen binds a TCP socket to addr and listens.
func (a *simApp) listen(af Family, addr string) int32 {
	fd := a.open(af, SockStream)
	if errno := a.s.SockBind(fd, inetAddr(addr)); errno != 0 {
		a.t.Fatalf("bind %s: %v", addr, errno)
	}
	if errno := a.s.SockListen(fd, 8); errno != 0 {
		a.t.Fatalf("listen %s: %v", addr, errno)
	}
	return fd
}

// hostAddr is the host socket's real address of fd.
func (a *simApp) hostAddr(fd int32) netip.AddrPort {
	f, _ := a.s.Lookup(fd)
	got, errno := a.s.localAddr(f)
	if errno != 0 {
		a.t.Fatal(errno.Name())
	}
	return got.AddrPort()
}

func inetAddr(s string) Addr {
	ap := netip.MustParseAddrPort(s)
	af := AFInet4
	if ap.Addr().Is6() {
		af = AFInet6
	}
	return Addr{Family: af, IP: ap.Addr(), Port: ap.Port()}
}

// accepted reports whether listener fd has a connection waiting (and
// takes it), whose local address the guest must see at port.
func (a *simApp) accepted(fd int32, port uint16) bool {
	// A connect on loopback has returned: the connection is queued.
	f, _ := a.s.Lookup(fd)
	pfd := []PollFd{NewPollFd(f.Fd, PollIn)}
	if n, errno := NewPoller().Wait(context.Background(), pfd, []Timer{{Clock: ClockMonotonic}}); errno != 0 || n == 0 {
		return false
	}
	nfd, errno := a.s.SockAccept(fd, 0)
	if errno != 0 {
		a.t.Fatalf("accept: %v", errno)
	}
	if got, _ := a.s.SockLocalAddr(nfd); got.Port != port {
		a.t.Errorf("accepted connection's local address %v, want port %d", got, port)
	}
	a.s.CloseFD(nfd)
	return true
}

// TestVirtualPortsTwoApps: two apps both bind TCP 0.0.0.0:8080; each
// sees 0.0.0.0:8080 while its host socket is elsewhere on 127.0.0.1; each
// one's connect to 127.0.0.1:8080 (and 0.0.0.0:8080) reaches its own
// listener only; a loopback port it does not hold (a host server's, the
// other app's real one) is ECONNREFUSED; closing gives the port back.
func TestVirtualPortsTwoApps(t *testing.T) {
	host, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	apps := []*simApp{newSimApp(t), newSimApp(t)}
	var ls []int32
	for _, a := range apps {
		l := a.listen(AFInet4, "0.0.0.0:8080")
		ls = append(ls, l)
		if got, _ := a.s.SockLocalAddr(l); got != inetAddr("0.0.0.0:8080") {
			t.Errorf("getsockname = %v, want 0.0.0.0:8080", got)
		}
		if h := a.hostAddr(l); h.Addr() != loop4 || h.Port() == 8080 {
			t.Errorf("host socket at %v, want 127.0.0.1 and another port", h)
		}
	}
	for i, a := range apps {
		other := apps[1-i]
		for _, to := range []string{"127.0.0.1:8080", "0.0.0.0:8080", "127.0.0.2:8080"} {
			c := a.open(AFInet4, SockStream)
			if errno := a.s.SockConnect(c, inetAddr(to)); errno != 0 {
				t.Fatalf("app %d: connect %s: %v", i, to, errno)
			}
			if got, _ := a.s.SockPeerAddr(c); got.Port != 8080 {
				t.Errorf("app %d: getpeername after connect %s = %v, want port 8080", i, to, got)
			}
			if !a.accepted(ls[i], 8080) {
				t.Errorf("app %d: connect %s did not reach its own listener", i, to)
			}
			if other.accepted(ls[1-i], 8080) {
				t.Errorf("app %d: connect %s reached the other app's listener", i, to)
			}
			a.s.CloseFD(c)
		}
		for _, to := range []netip.AddrPort{host.Addr().(*net.TCPAddr).AddrPort(), other.hostAddr(ls[1-i]), netip.MustParseAddrPort("127.0.0.1:9")} {
			c := a.open(AFInet4, SockStream)
			if errno := a.s.SockConnect(c, inetAddr(to.String())); errno != ECONNREFUSED {
				t.Errorf("app %d: connect %s = %v, want ECONNREFUSED", i, to, errno)
			}
			a.s.CloseFD(c)
		}
	}
	// Taken, then given back.
	a := apps[0]
	if errno := a.s.SockBind(a.open(AFInet4, SockStream), inetAddr("127.0.0.1:8080")); errno != EADDRINUSE {
		t.Errorf("second bind of 8080 = %v, want EADDRINUSE", errno)
	}
	if errno := a.s.SockBind(a.open(AFInet4, SockStream), inetAddr("192.0.2.1:8080")); errno != EADDRNOTAVAIL {
		t.Errorf("bind of 192.0.2.1:8080 = %v, want EADDRNOTAVAIL", errno)
	}
	a.s.CloseFD(ls[0])
	if tab := a.s.VPorts.Table(); len(tab) != 0 {
		t.Errorf("table after close: %v", tab)
	}
	a.listen(AFInet4, "0.0.0.0:8080")
}

// TestVirtualPortsDial: the forwarder's Dial reaches the app's port, and
// a port it does not hold is refused.
func TestVirtualPortsDial(t *testing.T) {
	a := newSimApp(t)
	l := a.listen(AFInet4, "0.0.0.0:3000")
	c, err := a.s.VPorts.Dial("tcp", "127.0.0.1:3000")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if !a.accepted(l, 3000) {
		t.Error("Dial did not reach the listener")
	}
	if _, err := a.s.VPorts.Dial("tcp", "127.0.0.1:3001"); err == nil {
		t.Error("Dial of a port the app does not hold succeeded")
	}
}

// TestVirtualPortsUDP: a datagram to the app's own 127.0.0.1:5353 reaches
// its server, whose reply to the (unbound, so host-numbered) client is
// allowed; the client sees the reply from 127.0.0.1:5353.
func TestVirtualPortsUDP(t *testing.T) {
	a := newSimApp(t)
	srv := a.open(AFInet4, SockDgram)
	if errno := a.s.SockBind(srv, inetAddr("0.0.0.0:5353")); errno != 0 {
		t.Fatal(errno)
	}
	cli := a.open(AFInet4, SockDgram)
	if _, errno := a.s.SockSendTo(cli, [][]byte{[]byte("ping")}, inetAddr("127.0.0.1:5353"), 0); errno != 0 {
		t.Fatalf("send to 127.0.0.1:5353: %v", errno)
	}
	buf := make([]byte, 16)
	n, _, from, errno := a.s.SockRecvFrom(srv, [][]byte{buf}, 0)
	if errno != 0 || string(buf[:n]) != "ping" {
		t.Fatalf("server got %q %v", buf[:n], errno)
	}
	if _, errno := a.s.SockSendTo(srv, [][]byte{[]byte("pong")}, from, 0); errno != 0 {
		t.Fatalf("reply to %v: %v", from, errno)
	}
	n, _, from, errno = a.s.SockRecvFrom(cli, [][]byte{buf}, 0)
	if errno != 0 || string(buf[:n]) != "pong" || from != inetAddr("127.0.0.1:5353") {
		t.Errorf("client got %q from %v (%v), want pong from 127.0.0.1:5353", buf[:n], from, errno)
	}
	// A loopback port nobody of the app's sent from is refused.
	if _, errno := a.s.SockSendTo(srv, [][]byte{[]byte("x")}, inetAddr("127.0.0.1:9"), 0); errno != ECONNREFUSED {
		t.Errorf("send to 127.0.0.1:9 = %v, want ECONNREFUSED", errno)
	}
}

// TestVirtualPortsBlocked: a Blocked address is EHOSTUNREACH, also for a
// datagram.
func TestVirtualPortsBlocked(t *testing.T) {
	a := newSimApp(t, netip.MustParsePrefix("192.0.2.0/24"))
	c := a.open(AFInet4, SockStream)
	if errno := a.s.SockConnect(c, inetAddr("192.0.2.7:80")); errno != EHOSTUNREACH {
		t.Errorf("connect to a blocked address = %v, want EHOSTUNREACH", errno)
	}
	u := a.open(AFInet4, SockDgram)
	if _, errno := a.s.SockSendTo(u, [][]byte{[]byte("x")}, inetAddr("192.0.2.7:53"), 0); errno != EHOSTUNREACH {
		t.Errorf("send to a blocked address = %v, want EHOSTUNREACH", errno)
	}
}

// TestVirtualPortsBlockedRebinding: an allowed name that resolved to a
// Blocked address (DNS rebinding) does not open it; an address entry does.
// Judged by virtualDest, without a system call: 192.0.2.7 is not the
// test's to send to, whatever the outcome.
func TestVirtualPortsBlockedRebinding(t *testing.T) {
	a := newSimApp(t, netip.MustParsePrefix("192.0.2.0/24"))
	a.s.Egress = &Egress{AllowNames: []NameEntry{{Name: "rebind.test"}}}
	a.s.Egress.grants.add(netip.MustParseAddr("192.0.2.7"), 0) // as getaddrinfo of rebind.test does
	for _, st := range []SockType{SockStream, SockDgram} {
		f, _ := a.s.lookupSocket(a.open(AFInet4, st), 0)
		if _, errno, _ := a.s.virtualDest(f, inetAddr("192.0.2.7:80")); errno != EHOSTUNREACH {
			t.Errorf("%v: to a blocked address a name resolved to = %v, want EHOSTUNREACH", st, errno)
		}
	}
	a.s.Egress.Allow = []netip.Prefix{netip.MustParsePrefix("192.0.2.7/32")}
	f, _ := a.s.lookupSocket(a.open(AFInet4, SockStream), 0)
	if _, errno, _ := a.s.virtualDest(f, inetAddr("192.0.2.7:80")); errno != ESUCCESS {
		t.Errorf("to a blocked address an address entry names = %v, want success", errno)
	}
}

// TestVirtualPortsCurrent: with Current, the block list is asked for
// when a socket first goes out of loopback (a change of the host's shows
// at the next socket's), and a socket already out sends with the last
// list, without asking again (no system call per datagram).
func TestVirtualPortsCurrent(t *testing.T) {
	a := newSimApp(t)
	var asks int
	list := []netip.Prefix{netip.MustParsePrefix("192.0.2.1/32")}
	a.s.VPorts.Current = func() []netip.Prefix { asks++; return list }
	u := a.open(AFInet4, SockDgram)
	for range 3 {
		if _, errno := a.s.SockSendTo(u, [][]byte{[]byte("x")}, inetAddr("192.0.2.1:53"), 0); errno != EHOSTUNREACH {
			t.Errorf("send to a blocked address = %v, want EHOSTUNREACH", errno)
		}
	}
	if asks != 1 {
		t.Errorf("Current asked %d times for one socket's 3 sends, want 1", asks)
	}
	list = append(list, netip.MustParsePrefix("192.0.2.2/32")) // the host gains an address
	c := a.open(AFInet4, SockStream)
	if errno := a.s.SockConnect(c, inetAddr("192.0.2.2:80")); errno != EHOSTUNREACH {
		t.Errorf("a new socket's connect to an address the host gained = %v, want EHOSTUNREACH", errno)
	}
	if asks != 2 {
		t.Errorf("Current asked %d times after a second socket, want 2", asks)
	}
}

// TestVirtualPortsDualStack: a dual-stack [::]:8080 is reached from IPv4
// (127.0.0.1) and IPv6 ([::1]) sockets of the app, and reports [::]:8080.
func TestVirtualPortsDualStack(t *testing.T) {
	if l, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skip("no IPv6 loopback:", err)
	} else {
		l.Close()
	}
	a := newSimApp(t)
	l := a.listen(AFInet6, "[::]:8080")
	if got, _ := a.s.SockLocalAddr(l); got != inetAddr("[::]:8080") {
		t.Errorf("getsockname = %v, want [::]:8080", got)
	}
	for _, tc := range []struct {
		af Family
		to string
	}{{AFInet4, "127.0.0.1:8080"}, {AFInet6, "[::1]:8080"}, {AFInet6, "[::ffff:127.0.0.1]:8080"}} {
		c := a.open(tc.af, SockStream)
		if errno := a.s.SockConnect(c, inetAddr(tc.to)); errno != 0 {
			t.Errorf("connect %s: %v", tc.to, errno)
			continue
		}
		if !a.accepted(l, 8080) {
			t.Errorf("connect %s did not reach [::]:8080", tc.to)
		}
		a.s.CloseFD(c)
	}
	// A line through the forwarder's Dial, to check the data path.
	c, err := a.s.VPorts.Dial("tcp", "[::1]:8080")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	nfd, errno := a.s.SockAccept(l, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	if _, errno := a.s.SockSend(nfd, [][]byte{[]byte("hi\n")}, 0); errno != 0 {
		t.Fatal(errno)
	}
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "hi\n" {
		t.Errorf("read %q, %v", line, err)
	}
}

// TestVirtualPortsBounded: an app under simulated isolation opens at most
// MaxVirtualPorts sockets (each may take a port of the host's, by a bind,
// a send or a connect, counted or not in its table): the next sock_open
// is ENOBUFS, and one closed can be opened again. A listen on a UDP socket
// binds nothing (ENOTSUP).
func TestVirtualPortsBounded(t *testing.T) {
	a := newSimApp(t)
	var fds []int32
	for i := range MaxVirtualPorts {
		fd := a.open(AFInet4, SockDgram)
		if i%2 == 0 { // half in the table, half bound on the host
			if errno := a.s.SockBind(fd, inetAddr("127.0.0.1:0")); errno != 0 {
				t.Fatalf("bind %d: %v", i, errno)
			}
		} else if errno := a.s.SockBind(fd, inetAddr("0.0.0.0:0")); errno != 0 {
			t.Fatalf("bind %d to any: %v", i, errno)
		}
		fds = append(fds, fd)
	}
	if _, errno := a.s.SockOpen(AFInet4, SockStream); errno != ENOBUFS {
		t.Fatalf("open past the bound = %v, want ENOBUFS", errno)
	}
	a.s.CloseFD(fds[0])
	fd := a.open(AFInet4, SockDgram)
	if errno := a.s.SockListen(fd, 1); errno != ENOTSUP && runtime.GOOS != "windows" { // Winsock: EINVAL
		t.Errorf("listen on UDP = %v, want ENOTSUP", errno)
	}
	if h := a.hostAddr(fd); h.Port() != 0 {
		t.Errorf("a listen on UDP bound it at %v", h)
	}
}
