package sys

import (
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRelayRecvPeer: a relayed datagram socket the guest connected takes
// only its peer's datagrams, as a connected UDP socket does: another
// source's are dropped on receive and on peek; the source reported is the
// header's, IPv4-mapped on an IPv6 socket; a datagram too long for the
// buffer is truncated and says so.
func TestRelayRecvPeer(t *testing.T) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pair[0])
	s := &System{}
	defer s.Close()
	base, inh := MaxRights(FiletypeSocketDgram)
	peer := Addr{Family: AFInet6, IP: netip.MustParseAddr("::ffff:10.1.2.3"), Port: 53}
	fd := s.FDs.Insert(&File{Fd: pair[1], Type: FiletypeSocketDgram, RightsBase: base, RightsInheriting: inh,
		Sock: &Socket{Family: AFInet6, Type: SockDgram, outside: true, relay: true, peer: &peer}})
	record := func(from string, data string) {
		b := make([]byte, relayHeaderLen+len(data))
		putRelayHeader(b, netip.MustParseAddrPort(from))
		copy(b[relayHeaderLen:], data)
		if _, err := unix.Write(pair[0], b); err != nil {
			t.Fatal(err)
		}
	}
	record("10.9.9.9:53", "other")
	record("10.1.2.3:53", "peer one")
	buf := make([]byte, 4)
	n, roflags, from, errno := s.SockRecvFrom(fd, [][]byte{buf}, RiflagRecvPeek)
	if errno != 0 || string(buf[:n]) != "peer" || roflags != RoflagDataTrunc || from != peer {
		t.Errorf("peek: %q %v from %v: %v; want the peer's, truncated", buf[:n], roflags, from, errno)
	}
	record("10.9.9.9:53", "other again")
	record("10.1.2.3:53", "two")
	for _, want := range []string{"peer", "two"} {
		n, _, from, errno := s.SockRecvFrom(fd, [][]byte{buf}, 0)
		if errno != 0 || string(buf[:n]) != want || from != peer {
			t.Errorf("recv_from: %q from %v: %v; want %q from the peer", buf[:n], from, errno, want)
		}
	}
	if _, _, _, errno := s.SockRecvFrom(fd, [][]byte{buf}, RiflagDontWait); errno != EAGAIN {
		t.Errorf("recv_from with nothing left: %v, want EAGAIN", errno)
	}
	// Out: the peer's address behind the header.
	if n, errno := s.SockSend(fd, [][]byte{[]byte("hi")}, 0); errno != 0 || n != 2 {
		t.Fatalf("send: %d %v", n, errno)
	}
	out := make([]byte, 64)
	k, err := unix.Read(pair[0], out)
	if to, ok := relayHeader(out[:max(k, 0)]); err != nil || !ok || to != netip.MustParseAddrPort("10.1.2.3:53") || string(out[relayHeaderLen:k]) != "hi" {
		t.Errorf("the relay got %x (%v)", out[:max(k, 0)], err)
	}
}
