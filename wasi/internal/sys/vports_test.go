package sys

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// TestVirtualPortsTable: holding a port takes its sides, a second hold of
// a taken side fails, both directions of the mapping follow, Release gives
// everything back, and Changed sees each state.
func TestVirtualPortsTable(t *testing.T) {
	var seen [][]VirtualPort
	v := NewVirtualPorts(nil, func(tab []VirtualPort) { seen = append(seen, tab) })
	a, b, c := &Socket{Type: SockStream}, &Socket{Type: SockStream}, &Socket{Type: SockDgram}
	h4 := netip.MustParseAddrPort("127.0.0.1:41000")
	h6 := netip.MustParseAddrPort("[::1]:41001")
	guest := Addr{Family: AFInet4, IP: netip.IPv4Unspecified(), Port: 8080}
	if !v.hold(a, vkey{SockStream, 8080}, [2]bool{true, false}, guest, h4) {
		t.Fatal("hold of a free port failed")
	}
	if v.free(vkey{SockStream, 8080}, [2]bool{true, false}) || !v.free(vkey{SockStream, 8080}, [2]bool{false, true}) {
		t.Error("free: the IPv4 side is taken, the IPv6 side is not")
	}
	if v.hold(b, vkey{SockStream, 8080}, [2]bool{true, true}, guest, h6) {
		t.Error("a dual-stack hold of a port whose IPv4 side is taken succeeded")
	}
	if !v.hold(b, vkey{SockStream, 8080}, [2]bool{false, true}, Addr{Family: AFInet6, IP: netip.IPv6Loopback(), Port: 8080}, h6) {
		t.Fatal("hold of the free IPv6 side failed")
	}
	// UDP is a port space of its own.
	if !v.hold(c, vkey{SockDgram, 8080}, [2]bool{true, false}, guest, h4) {
		t.Fatal("hold of UDP 8080 failed")
	}
	for _, tc := range []struct {
		typ  SockType
		v6   bool
		want netip.AddrPort
	}{{SockStream, false, h4}, {SockStream, true, h6}, {SockDgram, false, h4}, {SockDgram, true, netip.AddrPort{}}} {
		got, ok := v.Lookup(tc.typ, 8080, tc.v6)
		if got != tc.want || ok != tc.want.IsValid() {
			t.Errorf("Lookup(%v, 8080, v6 %v) = %v %v, want %v", tc.typ, tc.v6, got, ok, tc.want)
		}
	}
	if p, ok := v.GuestPort(SockStream, netip.MustParseAddrPort("[::ffff:127.0.0.1]:41000")); !ok || p != 8080 {
		t.Errorf("GuestPort of the IPv4-mapped host address = %d %v, want 8080", p, ok)
	}
	if _, ok := v.GuestPort(SockStream, netip.MustParseAddrPort("127.0.0.1:41001")); ok {
		t.Error("GuestPort: 127.0.0.1:41001 is not a port of the app's (its IPv6 side is ::1)")
	}
	if g, ok := v.bound(a); !ok || g != guest {
		t.Errorf("bound(a) = %v %v, want %v", g, ok, guest)
	}
	want := []VirtualPort{{"tcp", 8080, h4}, {"tcp", 8080, h6}, {"udp", 8080, h4}}
	if got := v.Table(); !slices.Equal(got, want) {
		t.Errorf("Table() = %v, want %v", got, want)
	}
	for _, s := range []*Socket{a, b, c, a} { // a twice: a no-op
		v.Release(s)
	}
	if got := v.Table(); len(got) != 0 {
		t.Errorf("Table() after Release = %v", got)
	}
	if _, ok := v.GuestPort(SockStream, h4); ok {
		t.Error("GuestPort after Release still maps the host port")
	}
	if len(seen) != 6 || !slices.Equal(seen[2], want) || len(seen[5]) != 0 {
		t.Errorf("Changed saw %v", seen)
	}
}

// TestVirtualPortsHeard: a loopback datagram sender may be answered for
// heardFor after it was last heard from, and no longer.
func TestVirtualPortsHeard(t *testing.T) {
	v := NewVirtualPorts(nil, nil)
	from := netip.MustParseAddrPort("127.0.0.1:40000")
	now := time.Now()
	if v.answers(from, now) {
		t.Fatal("answers a sender never heard from")
	}
	v.Heard(from, now)
	if !v.answers(from, now.Add(heardFor)) {
		t.Error("does not answer a sender heard from within heardFor")
	}
	if v.answers(from, now.Add(heardFor+time.Second)) {
		t.Error("answers a sender last heard from more than heardFor ago")
	}
	if v.answers(netip.MustParseAddrPort("127.0.0.1:40001"), now) {
		t.Error("answers another port")
	}
	// Another loopback address at the same port is another service.
	if v.answers(netip.MustParseAddrPort("127.0.0.2:40000"), now) {
		t.Error("answers another address at the port heard from")
	}
	if !v.answers(netip.MustParseAddrPort("[::ffff:127.0.0.1]:40000"), now) {
		t.Error("does not answer the sender as an IPv4-mapped address")
	}
}

// TestVirtualPortsOffline: an app without outbound traffic sends no name
// query (its resolver's dial fails, with no socket made); one with it
// queries as the host does (no dial hook).
func TestVirtualPortsOffline(t *testing.T) {
	v := NewVirtualPorts(nil, nil)
	if v.NameserverDial() != nil {
		t.Error("an app with outbound traffic gets a nameserver dial hook")
	}
	v.Offline = true
	if c, err := v.NameserverDial()(context.Background(), "udp", "127.0.0.53:53"); c != nil || !errors.Is(err, errOffline) {
		t.Errorf("offline nameserver dial = %v, %v; want %v", c, err, errOffline)
	}
}
