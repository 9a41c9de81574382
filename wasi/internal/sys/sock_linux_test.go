package sys

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSockoptTable: every option of the extension maps to a host option a
// socket can be asked for (BINDTODEVICE reads as the empty name).
func TestSockoptTable(t *testing.T) {
	s := &System{}
	defer s.Close()
	fd, errno := s.SockOpen(AFInet4, SockStream)
	if errno != 0 {
		t.Fatal(errno)
	}
	for name := uint32(0); name <= SoBindtodevice; name++ {
		o, ok := sockopts[name]
		if !ok {
			t.Errorf("option %d not mapped", name)
			continue
		}
		v, errno := s.SockGetOpt(fd, SolSocket, name)
		if errno != 0 {
			t.Errorf("get option %d (host %d): %v", name, o.host, errno)
		}
		switch o.kind {
		case optInt, optReadOnlyInt:
			if len(v) != 4 {
				t.Errorf("option %d: %d bytes", name, len(v))
			}
			if o.kind == optInt {
				if errno := s.SockSetOpt(fd, SolSocket, name, v); errno != 0 && name != SoBindtodevice {
					t.Errorf("set option %d to its own value: %v", name, errno)
				}
			}
		case optLinger:
			if len(v) != 8 {
				t.Errorf("LINGER: %d bytes", len(v))
			}
		case optTimeval:
			if len(v) != 16 {
				t.Errorf("option %d: %d bytes", name, len(v))
			}
		}
	}
	if _, errno := s.SockGetOpt(fd, SolSocket, SoBindtodevice+1); errno != ENOPROTOOPT {
		t.Errorf("unknown option: %v", errno)
	}
}

// TestSockoptRawNetwork: a guest may not bind a socket to a device or turn
// on DONTROUTE (both bypass the routing table), even though this test, like
// a container process, may run as root; the host socket is left as it was.
// Reading both, and setting DONTROUTE to 0, still work.
func TestSockoptRawNetwork(t *testing.T) {
	s := &System{}
	defer s.Close()
	for _, st := range []SockType{SockStream, SockDgram} {
		fd, errno := s.SockOpen(AFInet4, st)
		if errno != 0 {
			t.Fatal(errno)
		}
		f, _ := s.Lookup(fd)
		for _, dev := range []string{"lo", "lo\x00", "", "eth0"} {
			if errno := s.SockSetOpt(fd, SolSocket, SoBindtodevice, []byte(dev)); errno != EPERM {
				t.Errorf("set BINDTODEVICE %q = %s, want EPERM", dev, errno.Name())
			}
		}
		if dev, err := unix.GetsockoptString(f.Fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE); err != nil || dev != "" {
			t.Errorf("host socket bound to %q (%v)", dev, err)
		}
		for _, v := range [][]byte{{1, 0, 0, 0}, {0, 0, 0, 1}, {0xff, 0xff, 0xff, 0xff}} {
			if errno := s.SockSetOpt(fd, SolSocket, SoDontroute, v); errno != EPERM {
				t.Errorf("set DONTROUTE %x = %s, want EPERM", v, errno.Name())
			}
		}
		if v, err := unix.GetsockoptInt(f.Fd, unix.SOL_SOCKET, unix.SO_DONTROUTE); err != nil || v != 0 {
			t.Errorf("host SO_DONTROUTE = %d (%v)", v, err)
		}
		if errno := s.SockSetOpt(fd, SolSocket, SoDontroute, []byte{0, 0, 0, 0}); errno != 0 {
			t.Errorf("set DONTROUTE 0 = %s", errno.Name())
		}
		if errno := s.SockSetOpt(fd, SolSocket, SoDontroute, []byte{1}); errno != EINVAL {
			t.Errorf("set DONTROUTE with 1 byte = %s, want EINVAL", errno.Name())
		}
		if v, errno := s.SockGetOpt(fd, SolSocket, SoDontroute); errno != 0 || len(v) != 4 {
			t.Errorf("get DONTROUTE = %x, %s", v, errno.Name())
		}
		if v, errno := s.SockGetOpt(fd, SolSocket, SoBindtodevice); errno != 0 || len(v) != 0 {
			t.Errorf("get BINDTODEVICE = %q, %s", v, errno.Name())
		}
	}
}

func TestDNSErrno(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Errno
	}{
		{&net.DNSError{IsNotFound: true}, EAI_NONAME},
		{&net.DNSError{IsTimeout: true}, EAI_AGAIN},
		{&net.DNSError{IsTemporary: true}, EAI_AGAIN},
		{&net.DNSError{Err: "server misbehaving"}, EAI_FAIL},
		{context.DeadlineExceeded, EAI_AGAIN},
		{errors.New("other"), EAI_FAIL},
	} {
		if got := dnsErrno(tc.err); got != tc.want {
			t.Errorf("dnsErrno(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestResolverFiles(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	os.WriteFile(conf, []byte("# c\nsearch example\nnameserver 127.0.0.53\nnameserver ::1\nnameserver bogus\noptions ndots:2\n"), 0o644)
	if got := readNameservers(conf); len(got) != 2 || got[0] != "127.0.0.53:53" || got[1] != "[::1]:53" {
		t.Errorf("nameservers %v", got)
	}
	if got := readNameservers(filepath.Join(dir, "missing")); len(got) != 2 || got[0] != "127.0.0.1:53" {
		t.Errorf("default nameservers %v", got)
	}
	hosts := filepath.Join(dir, "hosts")
	os.WriteFile(hosts, []byte("127.0.0.1 localhost\n10.0.0.1 A.example b # c\n#10.0.0.2 a.example\n::ffff:10.0.0.3 a.example.\nbad a.example\n"), 0o644)
	got := lookupHostsFile(hosts, "a.EXAMPLE")
	want := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.3")}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("hosts lookup %v, want %v", got, want)
	}
}

// TestUnixPreopenMatch: guest paths go to the longest matching preopen.
func TestUnixPreopenMatch(t *testing.T) {
	root, data := t.TempDir(), t.TempDir()
	s, err := New(nil, nil, nil, []Preopen{{HostPath: root, GuestPath: "/"}, {HostPath: data, GuestPath: "/data"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rootFile, _ := s.Lookup(3)
	dataFile, _ := s.Lookup(4)
	for _, tc := range []struct {
		path, rel string
		fd        int
	}{
		{"/data/x", "x", dataFile.Fd},
		{"/data", ".", dataFile.Fd},
		{"/database/x", "database/x", rootFile.Fd},
		{"/a/../data/y", "y", dataFile.Fd},
		{"rel", "rel", rootFile.Fd},
	} {
		fd, rel, errno := s.preopenFor(tc.path)
		if errno != 0 || fd != tc.fd || rel != tc.rel {
			t.Errorf("preopenFor(%q) = %d %q %v, want %d %q", tc.path, fd, rel, errno, tc.fd, tc.rel)
		}
	}
	// The guest name of a host path in a preopen.
	if got := s.guestPathOf(filepath.Join(data, "s.sock")); got != "/data/s.sock" {
		t.Errorf("guestPathOf = %q", got)
	}
	if got := s.guestPathOf("/elsewhere/s.sock"); got != "" {
		t.Errorf("guestPathOf outside the preopens = %q", got)
	}
}

// TestSockoptReuseaddrUDP: a guest's REUSEADDR on a UDP socket is only
// recorded: with it on the host socket, its bind of a port that a host
// service (or another app) holds with REUSEADDR would succeed and take
// the unicast datagrams sent there. The bind is refused, the service
// keeps its datagrams, and the guest reads back what it set. A TCP
// socket's REUSEADDR is the host's.
func TestSockoptReuseaddrUDP(t *testing.T) {
	victim, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(victim)
	if err := unix.SetsockoptInt(victim, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(victim, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(victim)
	port := sa.(*unix.SockaddrInet4).Port

	s := &System{}
	defer s.Close()
	one := []byte{1, 0, 0, 0}
	fd, errno := s.SockOpen(AFInet4, SockDgram)
	if errno != 0 {
		t.Fatal(errno)
	}
	if errno := s.SockSetOpt(fd, SolSocket, SoReuseaddr, one); errno != 0 {
		t.Fatalf("set REUSEADDR: %s", errno.Name())
	}
	if v, errno := s.SockGetOpt(fd, SolSocket, SoReuseaddr); errno != 0 || !bytes.Equal(v, one) {
		t.Errorf("get REUSEADDR = %x, %s; want what was set", v, errno.Name())
	}
	f, _ := s.Lookup(fd)
	if v, _ := unix.GetsockoptInt(f.Fd, unix.SOL_SOCKET, unix.SO_REUSEADDR); v != 0 {
		t.Errorf("the host UDP socket has SO_REUSEADDR %d", v)
	}
	if errno := s.SockBind(fd, Addr{Family: AFInet4, IP: netip.MustParseAddr("127.0.0.1"), Port: uint16(port)}); errno != EADDRINUSE {
		t.Fatalf("bind of the service's port = %s, want EADDRINUSE", errno.Name())
	}
	c, err := net.Dial("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("for the service"))
	buf := make([]byte, 64)
	unix.SetsockoptTimeval(victim, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 5})
	if n, _, err := unix.Recvfrom(victim, buf, 0); err != nil || string(buf[:n]) != "for the service" {
		t.Errorf("the service got %q, %v", buf[:n], err)
	}

	tcp, errno := s.SockOpen(AFInet4, SockStream)
	if errno != 0 {
		t.Fatal(errno)
	}
	if errno := s.SockSetOpt(tcp, SolSocket, SoReuseaddr, one); errno != 0 {
		t.Fatal(errno)
	}
	ft, _ := s.Lookup(tcp)
	if v, _ := unix.GetsockoptInt(ft.Fd, unix.SOL_SOCKET, unix.SO_REUSEADDR); v != 1 {
		t.Errorf("the host TCP socket has SO_REUSEADDR %d, want 1", v)
	}
}
