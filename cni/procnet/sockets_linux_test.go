package procnet

import (
	"errors"
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
	go func() { done <- ServeSockets(host) }()
	ask := SocketDialer(int(theirs.Fd()))
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
