package sys

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &Egress{Allow: tc.allow, Deny: tc.deny}
			addr := netip.MustParseAddr(tc.addr)
			if got := e.Permits(addr); got != tc.want {
				t.Errorf("Permits(%s) = %v, want %v", addr, got, tc.want)
			}
			wantErrno := ESUCCESS
			if !tc.want {
				wantErrno = EPERM
			}
			if got := e.Check(addr); got != wantErrno {
				t.Errorf("Check(%s) = %s, want %s", addr, got.Name(), wantErrno.Name())
			}
		})
	}
	var nilPolicy *Egress
	if !nilPolicy.Permits(netip.MustParseAddr("10.0.0.1")) {
		t.Error("a nil policy denied an address")
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

	u, err := net.ListenPacket("udp4", "127.0.0.1:0")
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
