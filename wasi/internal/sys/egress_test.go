package sys

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestEgress(t *testing.T) {
	p := func(ss ...string) (out []netip.Prefix) {
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	for _, tc := range []struct {
		name        string
		allow, deny []netip.Prefix
		addr        string
		want        bool
	}{
		{"no policy", nil, nil, "203.0.113.1", true},
		{"deny list hit", nil, p("10.0.0.0/8"), "10.1.2.3", false},
		{"deny list miss", nil, p("10.0.0.0/8"), "192.0.2.1", true},
		{"allow list hit", p("192.0.2.0/24"), nil, "192.0.2.9", true},
		{"allow list miss", p("192.0.2.0/24"), nil, "198.51.100.1", false},
		{"specific allow beats broad deny", p("127.0.0.1/32"), p("0.0.0.0/0"), "127.0.0.1", true},
		{"broad deny applies elsewhere", p("127.0.0.1/32"), p("0.0.0.0/0"), "127.0.0.2", false},
		{"specific deny beats broad allow", p("0.0.0.0/0"), p("127.0.0.0/8"), "127.0.0.1", false},
		{"tie: deny wins", p("10.0.0.0/8"), p("10.0.0.0/8"), "10.0.0.1", false},
		{"loopback gets no exception", nil, p("0.0.0.0/0"), "127.0.0.1", false},
		{"v4-mapped v6 address is v4", nil, p("127.0.0.0/8"), "::ffff:127.0.0.1", false},
		{"v4 rule does not match v6", nil, p("0.0.0.0/0"), "::1", true},
		{"v6 deny", nil, p("::1/128"), "::1", false},
		{"v6 not in v4 allow list", p("0.0.0.0/0"), nil, "::1", false},
		// Judged where Linux delivers: "any" is this host's loopback.
		{"0.0.0.0 is loopback", nil, p("127.0.0.0/8", "::1/128"), "0.0.0.0", false},
		{"mapped 0.0.0.0 is loopback", nil, p("127.0.0.0/8", "::1/128"), "::ffff:0.0.0.0", false},
		{":: is loopback", nil, p("127.0.0.0/8", "::1/128"), "::", false},
		{"0.0.0.0 allowed as 127.0.0.1", p("127.0.0.1/32"), p("0.0.0.0/0"), "0.0.0.0", true},
		{"deny of 0.0.0.0/32 alone is not loopback", nil, p("0.0.0.0/32"), "0.0.0.0", true},
		{":: not in an allow list of ::/128", p("::/128"), nil, "::", false},
		{"zone is ignored", nil, p("fe80::/10"), "fe80::1%eth0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &Egress{Allow: tc.allow, Deny: tc.deny}
			addr := netip.MustParseAddr(tc.addr)
			if got := e.Permits(addr, 80); got != tc.want {
				t.Errorf("Permits(%s) = %v, want %v", addr, got, tc.want)
			}
			wantErrno := ESUCCESS
			if !tc.want {
				wantErrno = EPERM
			}
			if got := e.Check(addr, 80); got != wantErrno {
				t.Errorf("Check(%s) = %s, want %s", addr, got.Name(), wantErrno.Name())
			}
		})
	}
	var nilPolicy *Egress
	if !nilPolicy.Permits(netip.MustParseAddr("10.0.0.1"), 80) {
		t.Error("a nil policy denied an address")
	}
}

func TestEffectiveAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0.0.0.0":         "127.0.0.1",
		"::ffff:0.0.0.0":  "127.0.0.1",
		"::":              "::1",
		"::ffff:10.1.2.3": "10.1.2.3",
		"10.1.2.3":        "10.1.2.3",
		"fe80::1%eth0":    "fe80::1",
		"::1":             "::1",
		// IPv4-compatible addresses are plain IPv6 to Linux.
		"::10.1.2.3": "::a01:203",
		"::0.0.0.1":  "::1",
	} {
		if got := EffectiveAddr(netip.MustParseAddr(in)); got != netip.MustParseAddr(want) {
			t.Errorf("EffectiveAddr(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestEgressUnspecified: with loopback denied, connect and send_to to the
// unspecified address in every spelling are refused, and nothing reaches
// the loopback listeners. An IPv4 socket bound to an address sends to
// 0.0.0.0 at that address, which is checked too.
func TestEgressUnspecified(t *testing.T) {
	s := &System{Egress: &Egress{Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}}
	defer s.Close()
	accepted := make(chan string, 8)
	listen := func(network, addr string) uint16 {
		l, err := net.Listen(network, addr)
		if err != nil {
			t.Skipf("listen %s: %v", addr, err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				accepted <- c.LocalAddr().String()
				c.Close()
			}
		}()
		return uint16(l.Addr().(*net.TCPAddr).Port)
	}
	port4 := listen("tcp4", "127.0.0.1:0")
	for _, tc := range []struct {
		af   Family
		ip   string
		port uint16
	}{
		{AFInet4, "0.0.0.0", port4},
		{AFInet6, "0.0.0.0", port4},
		{AFInet6, "::ffff:0.0.0.0", port4},
		{AFInet6, "::", listen("tcp6", "[::1]:0")},
	} {
		fd, errno := s.SockOpen(tc.af, SockStream)
		if errno != 0 {
			t.Fatal(errno.Name())
		}
		ip := netip.MustParseAddr(tc.ip)
		fam := AFInet4
		if ip.Is6() {
			fam = AFInet6
		}
		if errno := s.SockConnect(fd, Addr{Family: fam, IP: ip, Port: tc.port}); errno != EPERM {
			t.Errorf("connect (family %d) to %s = %s, want EPERM", tc.af, tc.ip, errno.Name())
		}
		s.CloseFD(fd)
	}

	u, err := listenUDP4(t)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	uport := uint16(u.LocalAddr().(*net.UDPAddr).Port)
	for _, tc := range []struct {
		af Family
		ip string
	}{{AFInet4, "0.0.0.0"}, {AFInet6, "::ffff:0.0.0.0"}, {AFInet6, "::"}} {
		fd, errno := s.SockOpen(tc.af, SockDgram)
		if errno != 0 {
			t.Fatal(errno.Name())
		}
		ip := netip.MustParseAddr(tc.ip)
		fam := AFInet4
		if ip.Is6() {
			fam = AFInet6
		}
		if _, errno := s.SockSendTo(fd, [][]byte{[]byte("x")}, Addr{Family: fam, IP: ip, Port: uport}, 0); errno != EPERM {
			t.Errorf("send_to (family %d) %s = %s, want EPERM", tc.af, tc.ip, errno.Name())
		}
		s.CloseFD(fd)
	}

	// Bound to 127.0.0.2, 0.0.0.0 is 127.0.0.2: a policy that allows
	// 127.0.0.1 but denies 127.0.0.2 must refuse it.
	s.Egress = &Egress{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}}
	fd, errno := s.SockOpen(AFInet4, SockDgram)
	if errno != 0 {
		t.Fatal(errno.Name())
	}
	if errno := s.SockBind(fd, Addr{Family: AFInet4, IP: netip.MustParseAddr("127.0.0.2")}); errno != 0 {
		t.Fatal(errno.Name())
	}
	if _, errno := s.SockSendTo(fd, [][]byte{[]byte("x")}, Addr{Family: AFInet4, IP: netip.IPv4Unspecified(), Port: uport}, 0); errno != EPERM {
		t.Errorf("send_to 0.0.0.0 from a socket bound to denied 127.0.0.2 = %s, want EPERM", errno.Name())
	}

	// A datagram over loopback is queued before sendto returns: a read
	// with a short deadline finds any that got through.
	u.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, _, err := u.ReadFrom(make([]byte, 8)); err == nil {
		t.Errorf("a denied datagram arrived (%d bytes)", n)
	}
	select {
	case a := <-accepted:
		t.Errorf("a denied connect reached %s", a)
	default:
	}
}

// TestEgressSockets applies a policy to real sockets: a denied connect and
// send_to fail with EPERM before any packet leaves, an allowed one goes
// through, and getaddrinfo drops denied addresses.
func TestEgressSockets(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	accepted := make(chan struct{}, 4)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	s := &System{Egress: &Egress{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}
	defer s.Close()

	connect := func(ip string) Errno {
		fd, errno := s.SockOpen(AFInet4, SockStream)
		if errno != 0 {
			t.Fatal(errno)
		}
		defer s.CloseFD(fd)
		return s.SockConnect(fd, Addr{Family: AFInet4, IP: netip.MustParseAddr(ip), Port: port})
	}
	if errno := connect("127.0.0.2"); errno != EPERM {
		t.Errorf("connect to denied 127.0.0.2 = %s, want EPERM", errno.Name())
	}
	if errno := connect("127.0.0.1"); errno != ESUCCESS {
		t.Errorf("connect to allowed 127.0.0.1 = %s", errno.Name())
	}
	<-accepted

	u, err := listenUDP4(t)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	ufd, errno := s.SockOpen(AFInet4, SockDgram)
	if errno != 0 {
		t.Fatal(errno)
	}
	uport := uint16(u.LocalAddr().(*net.UDPAddr).Port)
	if _, errno := s.SockSendTo(ufd, [][]byte{[]byte("x")}, Addr{Family: AFInet4, IP: netip.MustParseAddr("127.0.0.3"), Port: uport}, 0); errno != EPERM {
		t.Errorf("send_to denied address = %s, want EPERM", errno.Name())
	}

	hosts := filepath.Join(t.TempDir(), "hosts")
	os.WriteFile(hosts, []byte("127.0.0.1 allowed.test\n127.0.0.9 denied.test\n"), 0o644)
	r := &Resolver{Hosts: hosts, Egress: s.Egress}
	ais, errno := r.GetAddrInfo(context.Background(), "allowed.test", "80", AddrInfoHints{Family: AFInet4, SockType: SockStream}, 8)
	if errno != 0 || len(ais) != 1 || ais[0].Addr.IP != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("getaddrinfo allowed.test = %+v, %s", ais, errno.Name())
	}
	if ais, errno := r.GetAddrInfo(context.Background(), "denied.test", "80", AddrInfoHints{Family: AFInet4, SockType: SockStream}, 8); errno != EAI_FAIL {
		t.Errorf("getaddrinfo denied.test = %+v, %s, want EAI_FAIL", ais, errno.Name())
	}
}
