package cni

import (
	"net/netip"
	"testing"

	"github.com/wasmrun/wasmrun/cni/procnet"
)

// TestBlockedFromApps: the host's own addresses are blocked exactly,
// loopback and link-local (cloud metadata) always, and the given subnet.
func TestBlockedFromApps(t *testing.T) {
	got, err := procnet.BlockedFromApps("10.231.0.0/16")
	if err != nil {
		t.Fatal(err)
	}
	blocked := func(s string) bool {
		a := netip.MustParseAddr(s)
		for _, p := range got {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	for _, a := range []string{"127.0.0.1", "127.9.9.9", "169.254.169.254", "::1", "fe80::1", "224.0.0.251", "10.231.4.5", "255.255.255.255"} {
		if !blocked(a) {
			t.Errorf("%s is not blocked", a)
		}
	}
	nets, err := hostNetworks()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		if !blocked(n.Addr().String()) {
			t.Errorf("the host's address %s is not blocked", n.Addr())
		}
	}
	if blocked("192.0.2.7") || blocked("2001:db8::7") {
		t.Error("an address of the outside is blocked")
	}
}
