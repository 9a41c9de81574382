package procnet

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"testing"
)

// TestHostBlocked: the list follows the host: an address a new link gets
// is in the next list asked for, with a new generation, and gone again
// with the link; an unchanged host keeps the generation; fixed entries
// stay.
func TestHostBlocked(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (a veth pair)")
	}
	fixed := netip.MustParsePrefix("192.0.2.0/24")
	h, err := NewHostBlocked("10.231.0.0/16", []netip.Prefix{fixed}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	has := func(l []netip.Prefix, p netip.Prefix) bool {
		for _, q := range l {
			if q == p {
				return true
			}
		}
		return false
	}
	gen0, l := h.Current()
	if !has(l, fixed) {
		t.Errorf("fixed entry missing: %v", l)
	}
	if gen, _ := h.Current(); gen != gen0 {
		t.Errorf("generation moved without a change: %d -> %d", gen0, gen)
	}
	link := fmt.Sprintf("wrhb%d", os.Getpid()%100000)
	n := os.Getpid() % 250
	addr := netip.MustParsePrefix(fmt.Sprintf("10.240.%d.1/32", n))
	// Its network's broadcast address is the host's too: a datagram to
	// it reaches the host's services.
	bcast := netip.MustParsePrefix(fmt.Sprintf("10.240.%d.255/32", n))
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	ip("link", "add", link, "type", "veth", "peer", "name", link+"p")
	t.Cleanup(func() { exec.Command("ip", "link", "del", link).Run() })
	ip("addr", "add", fmt.Sprintf("10.240.%d.1/24", n), "dev", link)
	gen1, l := h.Current()
	if !has(l, addr) || !has(l, bcast) || gen1 == gen0 {
		t.Errorf("after the host gained %s/24: generation %d (was %d), list has it: %v, its broadcast address: %v", addr.Addr(), gen1, gen0, has(l, addr), has(l, bcast))
	}
	ip("link", "del", link)
	if gen2, l := h.Current(); has(l, addr) || gen2 == gen1 {
		t.Errorf("after the link went: generation %d (was %d), list still has %s: %v", gen2, gen1, addr, has(l, addr))
	}
	if !has(h.List(), fixed) {
		t.Errorf("fixed entry gone")
	}
}
