package procnet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/internal/relaywire"
)

// TestServeSockets: the creator makes TCP and UDP sockets of IPv4 and
// IPv6 for the container process, and nothing else: a raw or packet
// socket, a Unix one, a made-up type, or a stream socket without a
// destination is refused, so a container process taken over by its guest
// gets no more of the host's network than the guest's sockets need. A
// stream socket comes connecting to its destination (and gets there: the
// filter that holds it lets its peer's packets in, also IPv4 ones on an
// IPv6 socket); a datagram one comes bound to a port of its own.
func TestServeSockets(t *testing.T) {
	l4 := listen(t, "tcp4", "127.0.0.1:0")
	l6 := listen(t, "tcp6", "[::1]:0")
	ask := serve(t, &Policy{})
	for _, tc := range []struct {
		name string
		req  Request
		want error
		peer net.Listener // a stream socket's
	}{
		{"tcp4", Request{Domain: unix.AF_INET, Type: unix.SOCK_STREAM, To: addrPort(l4)}, nil, l4},
		{"tcp6", Request{Domain: unix.AF_INET6, Type: unix.SOCK_STREAM, Proto: unix.IPPROTO_TCP, V6Only: true, To: addrPort(l6)}, nil, l6},
		{"tcp6 to an IPv4-mapped address", Request{Domain: unix.AF_INET6, Type: unix.SOCK_STREAM,
			To: netip.AddrPortFrom(netip.AddrFrom16(addrPort(l4).Addr().As16()), addrPort(l4).Port())}, nil, l4},
		{"udp4", Request{Domain: unix.AF_INET, Type: unix.SOCK_DGRAM}, nil, nil},
		{"udp6", Request{Domain: unix.AF_INET6, Type: unix.SOCK_DGRAM, Proto: unix.IPPROTO_UDP}, nil, nil},
		{"tcp without a destination", Request{Domain: unix.AF_INET, Type: unix.SOCK_STREAM}, unix.EINVAL, nil},
		{"raw", Request{Domain: unix.AF_INET, Type: unix.SOCK_RAW, Proto: unix.IPPROTO_ICMP}, unix.EPROTONOSUPPORT, nil},
		{"tcp with another protocol", Request{Domain: unix.AF_INET, Type: unix.SOCK_STREAM, Proto: unix.IPPROTO_SCTP, To: addrPort(l4)}, unix.EPROTONOSUPPORT, nil},
		{"packet", Request{Domain: unix.AF_PACKET, Type: unix.SOCK_RAW}, unix.EAFNOSUPPORT, nil},
		{"unix", Request{Domain: unix.AF_UNIX, Type: unix.SOCK_STREAM}, unix.EAFNOSUPPORT, nil},
		{"netlink", Request{Domain: unix.AF_NETLINK, Type: unix.SOCK_RAW}, unix.EAFNOSUPPORT, nil},
	} {
		fd, err := ask(tc.req)
		if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if err != nil {
			continue
		}
		typ, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
		dom, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
		if tc.peer != nil {
			if typ != tc.req.Type || dom != tc.req.Domain {
				t.Errorf("%s: got a socket of domain %d type %d", tc.name, dom, typ)
			}
			if err := connected(fd, 10*time.Second); err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			accept(t, tc.peer, 10*time.Second)
		} else if local, err := relayHello(fd); typ != unix.SOCK_SEQPACKET || dom != unix.AF_UNIX || err != nil || local.Port() == 0 {
			t.Errorf("%s: got a socket of domain %d type %d, its relay's address %v, %v; want a relay's end", tc.name, dom, typ, local, err)
		}
		unix.Close(fd)
	}
}

// TestServeSocketsHeld: what a container process taken over by its guest
// would do with the host sockets it is given, against the kernel, on
// loopback: every attempt fails, and the servers it aims at accept
// nothing.
func TestServeSocketsHeld(t *testing.T) {
	if os.Geteuid() != 0 {
		fd, _ := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		err := pinPeer(fd, netip.MustParseAddrPort("127.0.0.1:1"))
		unix.Close(fd)
		if errors.Is(err, unix.EPERM) {
			t.Skipf("this kernel refuses socket filters without root (%v): nothing holds the sockets", err)
		}
	}
	a := listen(t, "tcp4", "127.0.0.1:0")
	b := listen(t, "tcp4", "127.0.0.1:0")
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	blocked := func() (uint64, []netip.Prefix) { return 1, loopback }

	t.Run("blocked destinations", func(t *testing.T) {
		ask := serve(t, &Policy{Blocked: blocked})
		for _, to := range []netip.AddrPort{addrPort(a), netip.AddrPortFrom(netip.IPv4Unspecified(), addrPort(a).Port())} {
			if fd, err := ask(Request{Domain: unix.AF_INET, Type: unix.SOCK_STREAM, To: to}); !errors.Is(err, unix.EHOSTUNREACH) {
				unix.Close(fd)
				t.Errorf("a stream socket to %s, blocked: %v, want EHOSTUNREACH", to, err)
			}
		}
		if fd, err := ask(Request{Domain: unix.AF_INET6, Type: unix.SOCK_STREAM,
			To: netip.AddrPortFrom(netip.AddrFrom16(addrPort(a).Addr().As16()), addrPort(a).Port())}); !errors.Is(err, unix.EHOSTUNREACH) {
			unix.Close(fd)
			t.Errorf("a stream socket to its IPv4-mapped address: %v, want EHOSTUNREACH", err)
		}
		notAccepted(t, a)
		// What opens it: an allow prefix as specific as the block (not a
		// wider one, nor one a deny prefix outranks).
		for _, tc := range []struct {
			name        string
			allow, deny []netip.Prefix
			open        bool
		}{
			{"allow 0.0.0.0/0", []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}, nil, false},
			{"allow 127.0.0.1/32, deny it", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, false},
			{"allow 127.0.0.1/32", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, nil, true},
		} {
			ask := serve(t, &Policy{Blocked: blocked, Allow: tc.allow, Deny: tc.deny})
			fd, err := ask(Request{Domain: unix.AF_INET, Type: unix.SOCK_STREAM, To: addrPort(a)})
			if (err == nil) != tc.open {
				t.Errorf("%s: %v, want open %v", tc.name, err, tc.open)
			}
			if err == nil {
				unix.Close(fd)
				accept(t, a, 10*time.Second)
			}
		}
	})

	t.Run("another peer", func(t *testing.T) {
		fd := connectedTo(t, a)
		for _, opt := range []int{unix.SO_DETACH_FILTER, unix.SO_LOCK_FILTER} {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, 0); !errors.Is(err, unix.EPERM) {
				t.Errorf("setsockopt %d on the held socket: %v, want EPERM", opt, err)
			}
		}
		// Disconnect it (connect to AF_UNSPEC) and connect it to b.
		if err := disconnect(fd); err != nil {
			t.Fatalf("disconnect: %v", err)
		}
		unix.SetNonblock(fd, true)
		bp := addrPort(b)
		if err := unix.Connect(fd, &unix.SockaddrInet4{Addr: bp.Addr().As4(), Port: int(bp.Port())}); err != unix.EINPROGRESS {
			t.Fatalf("connect elsewhere: %v, want EINPROGRESS", err)
		}
		if err := connected(fd, 1500*time.Millisecond); err == nil {
			t.Error("the held socket connected to another server")
		}
		notAccepted(t, b)
	})

	t.Run("listen", func(t *testing.T) {
		fd := connectedTo(t, a)
		if err := disconnect(fd); err != nil {
			t.Fatalf("disconnect: %v", err)
		}
		if err := unix.Listen(fd, 1); err != nil {
			return // refused (Linux 6.x: EINVAL): nothing listens
		}
		sa, _ := unix.Getsockname(fd)
		c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(c)
		if err := unix.Connect(c, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port(sa)}); err != unix.EINPROGRESS {
			t.Fatalf("a client's connect to it: %v, want EINPROGRESS", err)
		}
		if err := connected(c, 1500*time.Millisecond); err == nil {
			t.Error("a client connected to the held socket made to listen")
		}
	})

	t.Run("datagram", func(t *testing.T) {
		// u on 127.0.0.1 is blocked; v on 127.0.0.2 an allow prefix opens.
		u, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer u.Close()
		v, err := net.ListenPacket("udp4", "127.0.0.2:0")
		if err != nil {
			t.Skipf("listen on 127.0.0.2: %v", err)
		}
		defer v.Close()
		uAddr := u.LocalAddr().(*net.UDPAddr).AddrPort()
		vAddr := v.LocalAddr().(*net.UDPAddr).AddrPort()
		fd, err := serve(t, &Policy{Blocked: blocked, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}})(
			Request{Domain: unix.AF_INET, Type: unix.SOCK_DGRAM})
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		local, err := relayHello(fd)
		if err != nil {
			t.Fatal(err)
		}
		send := func(to netip.AddrPort, msg string) {
			b := make([]byte, relaywire.HeaderLen+len(msg))
			relaywire.PutHeader(b, to)
			copy(b[relaywire.HeaderLen:], msg)
			if _, err := unix.Write(fd, b); err != nil {
				t.Fatal(err)
			}
		}
		send(uAddr, "blocked")
		send(netip.AddrPortFrom(netip.IPv4Unspecified(), uAddr.Port()), "blocked, as 0.0.0.0")
		send(netip.AddrPortFrom(netip.AddrFrom16(uAddr.Addr().As16()), uAddr.Port()), "blocked, IPv4-mapped")
		unix.Write(fd, []byte("no header"))
		send(vAddr, "end") // the relay sends in order: the others are done with
		buf := make([]byte, 64)
		v.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, _, err := v.ReadFrom(buf); err != nil || string(buf[:n]) != "end" {
			t.Fatalf("the permitted server got %q, %v", buf[:n], err)
		}
		u.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if n, _, err := u.ReadFrom(buf); err == nil {
			t.Errorf("the blocked server got %q", buf[:n])
		}
		// An answer comes back, behind its sender's address.
		if _, err := v.WriteTo([]byte("back"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(local.Port())}); err != nil {
			t.Fatal(err)
		}
		n, err := unix.Read(fd, buf)
		if from, ok := relaywire.Header(buf[:max(n, 0)]); err != nil || !ok || from != vAddr || string(buf[relaywire.HeaderLen:n]) != "back" {
			t.Errorf("the relay passed %x (%v), want %q from %v", buf[:max(n, 0)], err, "back", vAddr)
		}
		// Only what the process sent to may answer: not the blocked
		// server, nor another port of the permitted address (the relay's
		// socket listens on every host address, loopback included).
		w, err := net.ListenPacket("udp4", "127.0.0.2:0")
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(local.Port())}
		for _, c := range []net.PacketConn{u, w, v} {
			if _, err := c.WriteTo([]byte("from "+c.LocalAddr().String()), to); err != nil {
				t.Fatal(err)
			}
		}
		n, err = unix.Read(fd, buf)
		if from, ok := relaywire.Header(buf[:max(n, 0)]); err != nil || !ok || from != vAddr {
			t.Errorf("the relay passed %q from %v (%v), want only what %v sent", buf[relaywire.HeaderLen:max(n, relaywire.HeaderLen)], from, err, vAddr)
		}
	})
}

// disconnect is connect(fd, AF_UNSPEC): a TCP socket drops its connection
// and may connect again.
func disconnect(fd int) error {
	sa := unix.RawSockaddrInet4{Family: unix.AF_UNSPEC}
	_, _, errno := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa)), unsafe.Sizeof(sa))
	if errno != 0 {
		return errno
	}
	return nil
}

// connectedTo is a host socket of a ServeSockets without a block list,
// connected to l (which accepted it), closed when the test ends.
func connectedTo(t *testing.T, l net.Listener) int {
	t.Helper()
	fd, err := serve(t, &Policy{})(Request{Domain: unix.AF_INET, Type: unix.SOCK_STREAM, To: addrPort(l)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := connected(fd, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	accept(t, l, 10*time.Second)
	return fd
}

// relayHello reads a relay's first record: the address of its UDP socket.
func relayHello(fd int) (netip.AddrPort, error) {
	b := make([]byte, relaywire.HeaderLen)
	n, err := unix.Read(fd, b)
	if err != nil {
		return netip.AddrPort{}, err
	}
	ap, ok := relaywire.Header(b[:n])
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("not a relay header: %x", b[:n])
	}
	return ap, nil
}

// TestRelayBound: a process that asks for relay after relay gets EMFILE
// past maxRelays, not the creator's memory; one it closes makes room.
func TestRelayBound(t *testing.T) {
	ask := serve(t, &Policy{})
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for range maxRelays {
		fd, err := ask(Request{Domain: unix.AF_INET, Type: unix.SOCK_DGRAM})
		if err != nil {
			t.Fatalf("relay %d: %v", len(fds)+1, err)
		}
		fds = append(fds, fd)
	}
	if fd, err := ask(Request{Domain: unix.AF_INET, Type: unix.SOCK_DGRAM}); !errors.Is(err, unix.EMFILE) {
		unix.Close(fd)
		t.Fatalf("relay %d: %v, want EMFILE", maxRelays+1, err)
	}
	unix.Close(fds[0])
	fds = fds[1:]
	var fd int
	var err error
	if !waitFor(10*time.Second, func() bool {
		fd, err = ask(Request{Domain: unix.AF_INET, Type: unix.SOCK_DGRAM})
		return err == nil
	}) {
		t.Fatalf("a relay after one closed: %v", err)
	}
	fds = append(fds, fd)
}

// waitFor polls cond until it holds or d has passed.
func waitFor(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(5 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// serve runs ServeSockets with p for the test and returns how to ask it.
func serve(t *testing.T, p *Policy) func(Request) (int, error) {
	host, theirs, err := DialSocketPair()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ServeSockets(host, p) }()
	t.Cleanup(func() {
		theirs.Close()
		if err := <-done; err != nil {
			t.Errorf("ServeSockets after the process's end closed: %v", err)
		}
	})
	return NewSockets(int(theirs.Fd()), &Outbound{}).Socket
}

// listen listens on address (of network) until the test ends.
func listen(t *testing.T, network, address string) net.Listener {
	l, err := net.Listen(network, address)
	if err != nil {
		t.Skipf("listen on %s: %v", address, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// addrPort is l's address.
func addrPort(l net.Listener) netip.AddrPort {
	return l.Addr().(*net.TCPAddr).AddrPort()
}

// port is sa's port (0 for a non-inet one).
func port(sa unix.Sockaddr) int {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return sa.Port
	case *unix.SockaddrInet6:
		return sa.Port
	}
	return 0
}

// connected waits up to d for TCP socket fd's connect to be done, and
// returns its error (one if it is still going on after d).
func connected(fd int, d time.Duration) error {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	deadline := time.Now().Add(d)
	for {
		n, err := unix.Poll(pfd, int(time.Until(deadline).Milliseconds()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("not connected after %v", d)
		}
		if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || v != 0 {
			return fmt.Errorf("connect: %v %v", unix.Errno(v), err)
		}
		_, err = unix.Getpeername(fd)
		return err
	}
}

// accept fails t unless l accepts a connection within d.
func accept(t *testing.T, l net.Listener, d time.Duration) {
	t.Helper()
	l.(*net.TCPListener).SetDeadline(time.Now().Add(d))
	c, err := l.Accept()
	if err != nil {
		t.Errorf("%s accepted nothing: %v", l.Addr(), err)
		return
	}
	c.Close()
}

// notAccepted fails t if l has a connection to accept (one that completed
// its handshake), looking once, briefly: the callers have waited already.
func notAccepted(t *testing.T, l net.Listener) {
	t.Helper()
	l.(*net.TCPListener).SetDeadline(time.Now().Add(50 * time.Millisecond))
	if c, err := l.Accept(); err == nil {
		c.Close()
		t.Errorf("%s accepted a connection", l.Addr())
	}
}

// TestServeSocketsBlockList: a socket comes with the creator's block
// list when the process's is older, and the process keeps it: a change
// at the creator (an address the host gained) reaches the process with
// its next socket, and only then; an unchanged list is not sent again.
func TestServeSocketsBlockList(t *testing.T) {
	host, theirs, err := DialSocketPair()
	if err != nil {
		t.Fatal(err)
	}
	defer theirs.Close()
	var mu sync.Mutex
	gen, list := uint64(1), []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	asked := 0
	go ServeSockets(host, &Policy{Blocked: func() (uint64, []netip.Prefix) {
		mu.Lock()
		defer mu.Unlock()
		asked++
		return gen, list
	}})
	s := NewSockets(int(theirs.Fd()), &Outbound{Blocked: list, BlockedGen: 1})
	socket := func() {
		t.Helper()
		fd, err := s.Socket(Request{Domain: unix.AF_INET, Type: unix.SOCK_DGRAM})
		if err != nil {
			t.Fatal(err)
		}
		unix.Close(fd)
	}
	socket()
	if got := s.Blocked(); !slices.Equal(got, list) {
		t.Errorf("block list after an unchanged generation: %v", got)
	}
	mu.Lock()
	gen, list = 2, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.9.8.7/32"), netip.MustParsePrefix("fd00::1/128")}
	want := list
	mu.Unlock()
	if got := s.Blocked(); len(got) != 1 {
		t.Errorf("block list changed before a socket was asked for: %v", got)
	}
	socket()
	if got := s.Blocked(); !slices.Equal(got, want) {
		t.Errorf("block list after the creator's change: %v, want %v", got, want)
	}
	mu.Lock()
	if asked != 2 {
		t.Errorf("the creator's list was read %d times for 2 sockets", asked)
	}
	mu.Unlock()
	// A refused socket still brings the list.
	mu.Lock()
	gen, list = 3, nil
	mu.Unlock()
	if _, err := s.Socket(Request{Domain: unix.AF_UNIX, Type: unix.SOCK_STREAM}); !errors.Is(err, unix.EAFNOSUPPORT) {
		t.Errorf("unix socket: %v", err)
	}
	if got := s.Blocked(); len(got) != 0 {
		t.Errorf("block list after an emptied one: %v", got)
	}
}

// TestPrefixesRoundTrip: the block list's encoding keeps every prefix,
// and a malformed one is refused.
func TestPrefixesRoundTrip(t *testing.T) {
	list := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("10.1.2.3/32"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("fe80::/10")}
	got, ok := parsePrefixes(appendPrefixes(nil, list))
	if !ok || !slices.Equal(got, list) {
		t.Errorf("round trip: %v %v, want %v", got, ok, list)
	}
	b := appendPrefixes(nil, list)
	for _, bad := range [][]byte{b[:len(b)-1], append(b, 0), {1, 0, 0, 0, 33, 4, 1, 2, 3, 4}, {1, 0, 0, 0, 8, 5, 1, 2, 3, 4, 5}} {
		if _, ok := parsePrefixes(bad); ok {
			t.Errorf("parsePrefixes(%v) accepted", bad)
		}
	}
}

// TestRelayLoop: the relays of one Policy share a loop; each carries its
// own datagrams both ways (a reply from a peer it did not send to is not
// heard), and once the process has closed every end, the loop ends and
// every relay's sockets are released.
func TestRelayLoop(t *testing.T) {
	p := &Policy{}
	ask := serve(t, p)
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	stranger, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	to := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	var ends []int
	for i := range 3 {
		fd, err := ask(Request{Domain: unix.AF_INET, Type: unix.SOCK_DGRAM})
		if err != nil {
			t.Fatal(err)
		}
		ends = append(ends, fd)
		relayed, err := relayHello(fd)
		if err != nil {
			t.Fatal(err)
		}
		rec := make([]byte, relaywire.HeaderLen+1)
		relaywire.PutHeader(rec, to)
		rec[relaywire.HeaderLen] = byte('a' + i)
		if _, err := unix.Write(fd, rec); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		peer.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, from, err := peer.ReadFrom(buf)
		if err != nil || string(buf[:n]) != string(rune('a'+i)) || from.(*net.UDPAddr).Port != int(relayed.Port()) {
			t.Fatalf("relay %d: the peer got %q from %v (%v), want %q from port %d", i, buf[:n], from, err, string(rune('a'+i)), relayed.Port())
		}
		// The stranger's datagram first: only the peer's comes in.
		stranger.WriteTo([]byte("x"), from)
		peer.WriteTo([]byte("ok"), from)
		in := make([]byte, relaywire.HeaderLen+64)
		n, err = unix.Read(fd, in)
		if src, ok := relaywire.Header(in[:max(n, 0)]); err != nil || !ok || src != to || string(in[relaywire.HeaderLen:n]) != "ok" {
			t.Fatalf("relay %d: the process got %q (%v), want \"ok\" from %v", i, in[:max(n, 0)], err, to)
		}
	}
	for _, fd := range ends {
		unix.Close(fd)
	}
	if !waitFor(10*time.Second, func() bool {
		p.loop.mu.Lock()
		defer p.loop.mu.Unlock()
		return !p.loop.running && p.relays.Load() == 0
	}) {
		t.Fatalf("the loop still runs (%d relays) after the process closed every end", p.relays.Load())
	}
}

// TestServeSocketsEgress: the creator holds what it makes to the egress
// policy's prefixes too, as the guest is held (a container process taken
// over by its guest could otherwise ask for anything not on the block
// list): a denied destination gets no stream socket (EPERM) and no relayed
// datagram, an allow list refuses what it does not name, and allowed
// host names leave open what their grants could open (a catch-all deny,
// an allow list's default), never a narrower deny.
func TestServeSocketsEgress(t *testing.T) {
	l4 := listen(t, "tcp4", "127.0.0.1:0")
	all := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
	lo := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	one := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	ten := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name string
		p    *Policy
		want error
	}{
		{"deny all", &Policy{Deny: all}, unix.EPERM},
		{"deny all, names allowed", &Policy{Deny: all, NameGrants: true}, nil},
		{"allow list without it", &Policy{Allow: ten}, unix.EPERM},
		{"allow list without it, names allowed", &Policy{Allow: ten, NameGrants: true}, nil},
		{"allow list with it", &Policy{Allow: lo}, nil},
		{"narrower deny", &Policy{Allow: lo, Deny: one, NameGrants: true}, unix.EPERM},
		{"deny of another", &Policy{Deny: ten}, nil},
	} {
		fd, err := serve(t, tc.p)(Request{Domain: unix.AF_INET, Type: unix.SOCK_STREAM, To: addrPort(l4)})
		if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if err == nil {
			if err := connected(fd, 10*time.Second); err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			accept(t, l4, 10*time.Second)
			unix.Close(fd)
		}
	}

	// Datagrams: one to a denied address, then one to an allowed one, of
	// the same receiver; only the second arrives (a relay keeps order).
	recv, err := net.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close()
	port := uint16(recv.LocalAddr().(*net.UDPAddr).Port)
	fd, err := serve(t, &Policy{Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}})(Request{Domain: unix.AF_INET, Type: unix.SOCK_DGRAM})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := relayHello(fd); err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct{ to, payload string }{{"127.0.0.2", "denied"}, {"127.0.0.1", "allowed"}} {
		rec := make([]byte, relaywire.HeaderLen)
		relaywire.PutHeader(rec, netip.AddrPortFrom(netip.MustParseAddr(d.to), port))
		if _, err := unix.Write(fd, append(rec, d.payload...)); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 64)
	recv.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, _, err := recv.ReadFrom(buf); err != nil || string(buf[:n]) != "allowed" {
		t.Errorf("the receiver got %q (%v) first, want \"allowed\"", buf[:n], err)
	}
}
