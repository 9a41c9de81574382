package procnet

import (
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// TestServeSockets: the creator makes unconnected TCP and UDP sockets of
// IPv4 and IPv6 for the container process, and nothing else: a raw or
// packet socket, a Unix one, or a made-up type is refused, so a container
// process taken over by its guest gets no more of the host's network than
// the guest's sockets need.
func TestServeSockets(t *testing.T) {
	host, theirs, err := DialSocketPair()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ServeSockets(host, nil) }()
	ask := NewSockets(int(theirs.Fd()), &Outbound{}).Socket
	for _, tc := range []struct {
		name             string
		domain, typ, pro int
		want             error
	}{
		{"tcp4", unix.AF_INET, unix.SOCK_STREAM, 0, nil},
		{"udp6", unix.AF_INET6, unix.SOCK_DGRAM, unix.IPPROTO_UDP, nil},
		{"raw", unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP, unix.EPROTONOSUPPORT},
		{"tcp with another protocol", unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_SCTP, unix.EPROTONOSUPPORT},
		{"packet", unix.AF_PACKET, unix.SOCK_RAW, 0, unix.EAFNOSUPPORT},
		{"unix", unix.AF_UNIX, unix.SOCK_STREAM, 0, unix.EAFNOSUPPORT},
		{"netlink", unix.AF_NETLINK, unix.SOCK_RAW, 0, unix.EAFNOSUPPORT},
	} {
		fd, err := ask(tc.domain, tc.typ, tc.pro)
		if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if err != nil {
			continue
		}
		typ, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
		dom, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
		if typ != tc.typ || dom != tc.domain {
			t.Errorf("%s: got a socket of domain %d type %d", tc.name, dom, typ)
		}
		if _, err := unix.Getpeername(fd); err == nil {
			t.Errorf("%s: the socket is connected", tc.name)
		}
		unix.Close(fd)
	}
	theirs.Close()
	if err := <-done; err != nil {
		t.Errorf("ServeSockets after the process's end closed: %v", err)
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
	go ServeSockets(host, func() (uint64, []netip.Prefix) {
		mu.Lock()
		defer mu.Unlock()
		asked++
		return gen, list
	})
	s := NewSockets(int(theirs.Fd()), &Outbound{Blocked: list, BlockedGen: 1})
	socket := func() {
		t.Helper()
		fd, err := s.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
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
	if asked != 2 {
		t.Errorf("the creator's list was read %d times for 2 sockets", asked)
	}
	// A refused socket still brings the list.
	mu.Lock()
	gen, list = 3, nil
	mu.Unlock()
	if _, err := s.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0); !errors.Is(err, unix.EAFNOSUPPORT) {
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
