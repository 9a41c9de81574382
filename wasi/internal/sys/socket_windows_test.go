package sys

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// The Windows backend's sockets, on loopback, through the System alone
// (run with GOOS=windows go test -c, under Windows or Wine).

var loopback4 = netip.MustParseAddr("127.0.0.1")

func mustOpen(t *testing.T, s *System, af Family, st SockType) int32 {
	t.Helper()
	fd, errno := s.SockOpen(af, st)
	if errno != 0 {
		t.Fatalf("sock_open: %s", errno.Name())
	}
	return fd
}

// listener returns a listening socket on 127.0.0.1 and its port.
func listener(t *testing.T, s *System) (int32, uint16) {
	t.Helper()
	l := mustOpen(t, s, AFInet4, SockStream)
	if errno := s.SockBind(l, Addr{Family: AFInet4, IP: loopback4}); errno != 0 {
		t.Fatalf("bind: %s", errno.Name())
	}
	if errno := s.SockListen(l, 8); errno != 0 {
		t.Fatalf("listen: %s", errno.Name())
	}
	a, errno := s.SockLocalAddr(l)
	if errno != 0 || a.Port == 0 || a.IP != loopback4 {
		t.Fatalf("getlocaladdr = %v, %s", a, errno.Name())
	}
	return l, a.Port
}

func TestWindowsTCP(t *testing.T) {
	s := &System{}
	defer s.Close()
	l, port := listener(t, s)

	c := mustOpen(t, s, AFInet4, SockStream)
	if a, errno := s.SockLocalAddr(c); errno != 0 || !a.IP.IsUnspecified() || a.Port != 0 {
		t.Errorf("getlocaladdr before bind = %v, %s; want 0.0.0.0:0", a, errno.Name())
	}
	if errno := s.SetFlags(c, FdflagNonblock); errno != 0 {
		t.Fatal(errno.Name())
	}
	errno := s.SockConnect(c, Addr{Family: AFInet4, IP: loopback4, Port: port})
	if errno != EINPROGRESS && errno != 0 {
		t.Fatalf("non-blocking connect = %s, want EINPROGRESS", errno.Name())
	}
	f, _ := s.Lookup(c)
	fds := []PollFd{NewPollFd(f.Fd, PollOut)}
	now, _ := Now(ClockMonotonic)
	if n, errno := NewPoller().Wait(context.Background(), fds, []Timer{{Clock: ClockMonotonic, At: now + int64(5*time.Second)}}); n != 1 || errno != 0 || fds[0].Revents&PollOut == 0 {
		t.Fatalf("wait for the connect = %d, %s, revents %#x", n, errno.Name(), fds[0].Revents)
	}
	if v, errno := s.SockGetOpt(c, SolSocket, SoError); errno != 0 || binary.LittleEndian.Uint32(v) != 0 {
		t.Errorf("SO_ERROR = %v, %s", v, errno.Name())
	}

	a, errno := s.SockAccept(l, 0)
	if errno != 0 {
		t.Fatalf("accept: %s", errno.Name())
	}
	if peer, errno := s.SockPeerAddr(a); errno != 0 || peer.IP != loopback4 {
		t.Errorf("getpeeraddr = %v, %s", peer, errno.Name())
	}
	// Nothing sent yet: the non-blocking side says EAGAIN, as on Linux.
	if _, _, errno := s.SockRecv(c, [][]byte{make([]byte, 8)}, 0); errno != EAGAIN {
		t.Errorf("recv with nothing there = %s, want EAGAIN", errno.Name())
	}
	// The accepted side is blocking; RiflagDontWait still does not wait.
	if _, _, errno := s.SockRecv(a, [][]byte{make([]byte, 8)}, RiflagDontWait); errno != EAGAIN {
		t.Errorf("recv DONTWAIT with nothing there = %s, want EAGAIN", errno.Name())
	}
	if n, errno := s.SockSend(c, [][]byte{[]byte("hel"), []byte("lo")}, 0); n != 5 || errno != 0 {
		t.Fatalf("send = %d, %s", n, errno.Name())
	}
	if errno := s.SockShutdown(c, ShutWR); errno != 0 {
		t.Errorf("shutdown: %s", errno.Name())
	}
	b1, b2 := make([]byte, 2), make([]byte, 8)
	got := 0
	for got < 5 {
		n, _, errno := s.SockRecv(a, [][]byte{b1, b2}, 0)
		if errno != 0 || n == 0 {
			t.Fatalf("recv = %d, %s", n, errno.Name())
		}
		got += int(n)
	}
	if string(b1)+string(b2[:3]) != "hello" {
		t.Errorf("received %q %q", b1, b2)
	}
	if n, _, errno := s.SockRecv(a, [][]byte{b2}, 0); n != 0 || errno != 0 {
		t.Errorf("recv after the peer's shutdown = %d, %s; want end of stream", n, errno.Name())
	}
	if n, errno := s.Write(a, [][]byte{[]byte("back")}); n != 4 || errno != 0 {
		t.Errorf("fd_write on a socket = %d, %s", n, errno.Name())
	}
	if errno := s.SetFlags(c, 0); errno != 0 {
		t.Fatal(errno.Name())
	}
	if n, errno := s.Read(c, [][]byte{b2}); n != 4 || errno != 0 || string(b2[:4]) != "back" {
		t.Errorf("fd_read on a socket = %d, %s, %q", n, errno.Name(), b2[:n])
	}
	if _, errno := s.SockAccept(c, 0); errno == 0 {
		t.Error("accept on a connected socket succeeded")
	}
	if errno := s.SockShutdown(c, 4); errno != EINVAL {
		t.Errorf("shutdown(4) = %s, want EINVAL", errno.Name())
	}
}

func TestWindowsConnectRefused(t *testing.T) {
	s := &System{}
	defer s.Close()
	l, port := listener(t, s)
	s.CloseFD(l)
	c := mustOpen(t, s, AFInet4, SockStream)
	if errno := s.SockConnect(c, Addr{Family: AFInet4, IP: loopback4, Port: port}); errno != ECONNREFUSED {
		t.Errorf("connect to a closed port = %s, want ECONNREFUSED", errno.Name())
	}
}

func TestWindowsUDP(t *testing.T) {
	s := &System{}
	defer s.Close()
	r := mustOpen(t, s, AFInet6, SockDgram) // dual-stack, as on Linux
	if errno := s.SockBind(r, Addr{Family: AFInet6, IP: netip.IPv6Unspecified()}); errno != 0 {
		t.Fatalf("bind: %s", errno.Name())
	}
	ra, _ := s.SockLocalAddr(r)
	w := mustOpen(t, s, AFInet4, SockDgram)
	if n, errno := s.SockSendTo(w, [][]byte{[]byte("datagram")}, Addr{Family: AFInet4, IP: loopback4, Port: ra.Port}, 0); n != 8 || errno != 0 {
		t.Fatalf("send_to = %d, %s", n, errno.Name())
	}
	wa, _ := s.SockLocalAddr(w)
	buf := make([]byte, 4)
	n, ro, from, errno := s.SockRecvFrom(r, [][]byte{buf}, RiflagRecvPeek)
	if errno != 0 || n != 4 || ro&RoflagDataTrunc == 0 || from.Port != wa.Port || from.IP.Unmap() != loopback4 {
		t.Errorf("peek into 4 bytes = %d, %#x, %v, %s", n, ro, from, errno.Name())
	}
	big := make([]byte, 64)
	n, ro, from, errno = s.SockRecvFrom(r, [][]byte{big}, 0)
	if errno != 0 || n != 8 || ro != 0 || string(big[:n]) != "datagram" || from.Family != AFInet6 {
		t.Errorf("recv_from = %d, %#x, %v, %s", n, ro, from, errno.Name())
	}
	if f := s.SenderFamily(r); f != AFInet6 {
		t.Errorf("sender family = %d", f)
	}
}

// TestWindowsEgress: the policy refuses a connect and a send_to before
// anything leaves, as on Linux; nothing reaches the listeners.
func TestWindowsEgress(t *testing.T) {
	s := &System{}
	defer s.Close()
	l, port := listener(t, s)
	if errno := s.SetFlags(l, FdflagNonblock); errno != 0 {
		t.Fatal(errno.Name())
	}
	u := mustOpen(t, s, AFInet4, SockDgram)
	if errno := s.SockBind(u, Addr{Family: AFInet4, IP: loopback4}); errno != 0 {
		t.Fatal(errno.Name())
	}
	if errno := s.SetFlags(u, FdflagNonblock); errno != 0 {
		t.Fatal(errno.Name())
	}
	ua, _ := s.SockLocalAddr(u)

	s.Egress = &Egress{Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
	for _, to := range []Addr{
		{Family: AFInet4, IP: loopback4, Port: port},
		{Family: AFInet4, IP: netip.IPv4Unspecified(), Port: port},
	} {
		c := mustOpen(t, s, AFInet4, SockStream)
		if errno := s.SockConnect(c, to); errno != EPERM {
			t.Errorf("connect to %v = %s, want EPERM", to, errno.Name())
		}
		w := mustOpen(t, s, AFInet4, SockDgram)
		to.Port = ua.Port
		if _, errno := s.SockSendTo(w, [][]byte{[]byte("x")}, to, 0); errno != EPERM {
			t.Errorf("send_to %v = %s, want EPERM", to, errno.Name())
		}
	}
	c6 := mustOpen(t, s, AFInet6, SockStream)
	if errno := s.SockConnect(c6, Addr{Family: AFInet6, IP: netip.MustParseAddr("::ffff:127.0.0.1"), Port: port}); errno != EPERM {
		t.Errorf("connect to ::ffff:127.0.0.1 = %s, want EPERM", errno.Name())
	}
	time.Sleep(50 * time.Millisecond)
	if _, errno := s.SockAccept(l, 0); errno != EAGAIN {
		t.Errorf("a denied connect arrived: accept = %s", errno.Name())
	}
	if _, _, errno := s.SockRecv(u, [][]byte{make([]byte, 8)}, 0); errno != EAGAIN {
		t.Errorf("a denied datagram arrived: recv = %s", errno.Name())
	}

	s.Egress = &Egress{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	c := mustOpen(t, s, AFInet4, SockStream)
	if errno := s.SockConnect(c, Addr{Family: AFInet4, IP: loopback4, Port: port}); errno != 0 {
		t.Errorf("allowed connect = %s", errno.Name())
	}
}

func TestWindowsSockopts(t *testing.T) {
	s := &System{}
	defer s.Close()
	fd := mustOpen(t, s, AFInet4, SockStream)
	u32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	get := func(name uint32) []byte {
		v, errno := s.SockGetOpt(fd, SolSocket, name)
		if errno != 0 {
			t.Fatalf("getsockopt %d: %s", name, errno.Name())
		}
		return v
	}
	if v := get(SoType); binary.LittleEndian.Uint32(v) != uint32(SockStream) {
		t.Errorf("SO_TYPE = %v", v)
	}
	for _, name := range []uint32{SoReuseaddr, SoKeepalive, SoBroadcast} {
		if errno := s.SockSetOpt(fd, SolSocket, name, u32(1)); errno != 0 {
			t.Errorf("set %d: %s", name, errno.Name())
		}
		if v := get(name); binary.LittleEndian.Uint32(v) != 1 {
			t.Errorf("option %d reads %v after setting 1", name, v)
		}
	}
	tv := binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, 2), 500000)
	if errno := s.SockSetOpt(fd, SolSocket, SoRcvtimeo, tv); errno != 0 {
		t.Errorf("set RCVTIMEO: %s", errno.Name())
	}
	if v := get(SoRcvtimeo); string(v) != string(tv) {
		t.Errorf("RCVTIMEO reads %v, want %v", v, tv)
	}
	linger := append(u32(1), u32(7)...)
	if errno := s.SockSetOpt(fd, SolSocket, SoLinger, linger); errno != 0 {
		t.Errorf("set LINGER: %s", errno.Name())
	}
	if v := get(SoLinger); string(v) != string(linger) {
		t.Errorf("LINGER reads %v, want %v", v, linger)
	}
	for _, tc := range []struct {
		name  uint32
		val   []byte
		errno Errno
	}{
		{SoDontroute, u32(1), EPERM},
		{SoBindtodevice, []byte("eth0"), ENOPROTOOPT},
		{SoType, u32(1), ENOPROTOOPT},
		{SoKeepalive, []byte{1}, EINVAL},
		{99, u32(1), ENOPROTOOPT},
	} {
		if errno := s.SockSetOpt(fd, SolSocket, tc.name, tc.val); errno != tc.errno {
			t.Errorf("set %d = %s, want %s", tc.name, errno.Name(), tc.errno.Name())
		}
	}
}

// TestWindowsPoll: a wait sleeps until its deadline (or a socket is
// ready), and a cancelled context ends it at once.
func TestWindowsPoll(t *testing.T) {
	s := &System{}
	defer s.Close()
	p := NewPoller()
	defer p.Close()
	l, _ := listener(t, s)
	f, _ := s.Lookup(l)

	for _, fds := range [][]PollFd{nil, {NewPollFd(f.Fd, PollIn)}} {
		start := time.Now()
		now, _ := Now(ClockMonotonic)
		n, errno := p.Wait(context.Background(), fds, []Timer{{Clock: ClockMonotonic, At: now + int64(100*time.Millisecond)}})
		if d := time.Since(start); n != 0 || errno != 0 || d < 100*time.Millisecond || d > 2*time.Second {
			t.Errorf("wait on %d sockets for 100 ms = %d, %s after %v", len(fds), n, errno.Name(), d)
		}
	}
	real, _ := Now(ClockRealtime)
	start := time.Now()
	if _, errno := p.Wait(context.Background(), nil, []Timer{{Clock: ClockRealtime, At: real + int64(50*time.Millisecond)}}); errno != 0 || time.Since(start) < 50*time.Millisecond {
		t.Errorf("realtime deadline: %s after %v", errno.Name(), time.Since(start))
	}
	for _, fds := range [][]PollFd{nil, {NewPollFd(f.Fd, PollIn)}} {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		if _, errno := p.Wait(ctx, fds, nil); errno != ECANCELED || time.Since(start) > 2*time.Second {
			t.Errorf("cancelled wait on %d sockets = %s after %v", len(fds), errno.Name(), time.Since(start))
		}
	}
	if _, errno := p.Wait(context.Background(), nil, []Timer{{Clock: ClockProcessCPU}}); errno != EINVAL {
		t.Errorf("a CPU-clock deadline = %s, want EINVAL", errno.Name())
	}
}

// TestWindowsGetAddrInfoEgress: names from a hosts file, filtered by the
// egress policy as on Linux (no DNS server: Go's UDP sockets do not work
// under Wine).
func TestWindowsGetAddrInfoEgress(t *testing.T) {
	hosts := filepath.Join(tempDir(t), "hosts")
	os.WriteFile(hosts, []byte("127.0.0.1 allowed.test\n127.0.0.9 denied.test\n"), 0o644)
	e := &Egress{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	r := &Resolver{Hosts: hosts, Egress: e}
	hints := AddrInfoHints{Family: AFInet4, SockType: SockStream}
	ais, errno := r.GetAddrInfo(context.Background(), "allowed.test", "80", hints, 8)
	if errno != 0 || len(ais) != 1 || ais[0].Addr.IP != loopback4 || ais[0].Addr.Port != 80 {
		t.Errorf("getaddrinfo allowed.test = %+v, %s", ais, errno.Name())
	}
	if ais, errno := r.GetAddrInfo(context.Background(), "denied.test", "80", hints, 8); errno != EAI_FAIL {
		t.Errorf("getaddrinfo denied.test = %+v, %s, want EAI_FAIL", ais, errno.Name())
	}
}

// TestWindowsListeners: a listening socket the host hands in (as
// wasmrun run --listen does) is the guest's to accept on.
func TestWindowsListeners(t *testing.T) {
	h, err := windows.WSASocket(windows.AF_INET, windows.SOCK_STREAM, 0, nil, 0, wsaFlagNoHandleInherit)
	if err != nil {
		t.Fatal(err)
	}
	if err := windows.Bind(h, &windows.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := windows.Listen(h, 8); err != nil {
		t.Fatal(err)
	}
	sa, _ := windows.Getsockname(h)
	port := sa.(*windows.SockaddrInet4).Port
	f := os.NewFile(uintptr(h), "listener")
	defer windows.Closesocket(h)

	s := &System{}
	defer s.Close()
	if err := s.InsertListeners([]*os.File{f}); err != nil {
		t.Fatal(err)
	}
	fd := int32(0) // no stdio in this System: the listener is fd 0
	if st, errno := s.Filestat(fd); errno != 0 || st.Type != FiletypeSocketStream {
		t.Errorf("filestat = %+v, %s", st, errno.Name())
	}
	c, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, errno := s.SockAccept(fd, 0)
	if errno != 0 {
		t.Fatalf("accept: %s", errno.Name())
	}
	c.Write([]byte("hi"))
	buf := make([]byte, 4)
	if n, errno := s.Read(a, [][]byte{buf}); n != 2 || errno != 0 {
		t.Errorf("read = %d, %s", n, errno.Name())
	}
}
