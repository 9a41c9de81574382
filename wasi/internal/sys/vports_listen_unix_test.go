//go:build unix

package sys

import (
	"net/netip"
	"testing"
)

// TestVirtualPortsListenUnbound: a listen without a bind gets a port of
// the app's on loopback, as a bind to port 0 would, never a host port on
// every address (open to the network, outside the app's table, and able
// to take a port another app forwards); the app's own connect to it
// arrives. A socket a refused connect left bound on the host may not
// listen (EINVAL).
func TestVirtualPortsListenUnbound(t *testing.T) {
	for _, af := range []Family{AFInet4, AFInet6} {
		a := newSimApp(t)
		l := a.open(af, SockStream)
		if errno := a.s.SockListen(l, 8); errno != 0 {
			t.Fatalf("listen unbound: %v", errno)
		}
		h := a.hostAddr(l)
		if !h.Addr().Unmap().IsLoopback() {
			t.Errorf("family %d: host socket listens at %v, want loopback", af, h)
		}
		got, _ := a.s.SockLocalAddr(l)
		tab := a.s.VPorts.Table()
		if len(tab) != 1 || tab[0].Port != got.Port {
			t.Errorf("family %d: table %v, want the guest's port %d", af, tab, got.Port)
		}
		c := a.open(af, SockStream)
		lo := "127.0.0.1"
		if af == AFInet6 {
			lo = "::1"
		}
		if errno := a.s.SockConnect(c, inetAddr(netip.AddrPortFrom(netip.MustParseAddr(lo), got.Port).String())); errno != 0 {
			t.Errorf("family %d: connect to its own port %d: %v", af, got.Port, errno)
		} else if !a.accepted(l, got.Port) {
			t.Errorf("family %d: its own connect did not arrive", af)
		}

		refused := a.open(af, SockStream)
		if errno := a.s.SockConnect(refused, inetAddr(netip.AddrPortFrom(netip.MustParseAddr(lo), 9).String())); errno != ECONNREFUSED {
			t.Fatalf("connect to a port not its own: %v", errno)
		}
		if errno := a.s.SockListen(refused, 8); errno != 0 {
			if h := a.hostAddr(refused); h.Port() != 0 && errno != EINVAL {
				t.Errorf("listen after a refused connect: %v", errno)
			}
		} else if h := a.hostAddr(refused); !h.Addr().Unmap().IsLoopback() {
			t.Errorf("listen after a refused connect: host socket at %v", h)
		}
	}
}

// TestVirtualPortsHeardOwnClosed: a datagram from a socket of the app's
// own that it then closes leaves nothing heard: the app cannot send to
// whatever takes that host port next (it could otherwise fill its heard
// list with host ports of its choosing, for services that come later).
func TestVirtualPortsHeardOwnClosed(t *testing.T) {
	a := newSimApp(t)
	srv := a.open(AFInet4, SockDgram)
	if errno := a.s.SockBind(srv, inetAddr("127.0.0.1:5353")); errno != 0 {
		t.Fatal(errno)
	}
	cli := a.open(AFInet4, SockDgram)
	if errno := a.s.SockBind(cli, inetAddr("0.0.0.0:0")); errno != 0 {
		t.Fatal(errno)
	}
	if _, errno := a.s.SockSendTo(cli, [][]byte{[]byte("me")}, inetAddr("127.0.0.1:5353"), 0); errno != 0 {
		t.Fatal(errno)
	}
	buf := make([]byte, 8)
	_, _, from, errno := a.s.SockRecvFrom(srv, [][]byte{buf}, 0)
	if errno != 0 {
		t.Fatal(errno)
	}
	if _, errno := a.s.SockSendTo(srv, [][]byte{[]byte("back")}, from, 0); errno != 0 {
		t.Fatalf("answer its own open socket at %v: %v", from, errno)
	}
	a.s.CloseFD(cli)
	if _, errno := a.s.SockSendTo(srv, [][]byte{[]byte("later")}, from, 0); errno != ECONNREFUSED {
		t.Errorf("send to %v, its own socket's port once closed = %v, want ECONNREFUSED", from, errno)
	}
}
