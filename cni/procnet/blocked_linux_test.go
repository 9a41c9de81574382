package procnet

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
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

// TestLocalPrefixes: what the host delivers to itself beyond its
// interfaces' addresses is blocked too, and followed: in a namespace of
// the test's, the whole prefix of an address on lo, a local route, and the
// subnet-router anycast address IPv6 forwarding gives a prefix; a local
// route added later is in the next list, with a new generation.
func TestLocalPrefixes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (a network namespace)")
	}
	name := fmt.Sprintf("wrlp%d", os.Getpid())
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	run("ip", "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	run("ip", "-n", name, "link", "set", "lo", "up")
	run("ip", "-n", name, "addr", "add", "10.241.7.1/24", "dev", "lo")
	run("ip", "-n", name, "route", "add", "local", "10.241.9.0/24", "dev", "lo")
	run("ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
	run("ip", "-n", name, "link", "add", "d0", "type", "veth", "peer", "name", "d1")
	run("ip", "-n", name, "link", "set", "d0", "up")
	run("ip", "-n", name, "link", "set", "d1", "up")
	run("ip", "-n", name, "addr", "add", "fd77::1/64", "dev", "d0", "nodad")
	// In main; in a table a rule picks by destination alone (a default
	// local route there: the rule's destinations); and in a table only
	// marked packets use (TPROXY's), which the maker's never are.
	run("ip", "-n", name, "route", "add", "local", "10.241.13.0/24", "dev", "lo", "table", "main")
	run("ip", "-n", name, "rule", "add", "to", "10.241.15.0/24", "lookup", "241")
	run("ip", "-n", name, "route", "add", "local", "default", "dev", "lo", "table", "241")
	run("ip", "-n", name, "rule", "add", "fwmark", "1", "lookup", "242")
	run("ip", "-n", name, "route", "add", "local", "default", "dev", "lo", "table", "242")
	run("ip", "-n", name, "route", "add", "local", "10.241.19.0/24", "dev", "lo", "table", "244") // a rule comes later

	in := func(f func()) {
		t.Helper()
		ns, err := os.Open("/run/netns/" + name)
		if err != nil {
			t.Fatal(err)
		}
		defer ns.Close()
		done := make(chan error, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends in the namespace
			if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
				done <- err
				return
			}
			f()
			done <- nil
		}()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	var h *HostBlocked
	var gen0, gen1, gen2 uint64
	var l0, l1, l2 []netip.Prefix
	in(func() {
		var err error
		if h, err = NewHostBlocked("", nil, t.Logf); err != nil {
			t.Error(err)
			return
		}
		gen0, l0 = h.Current()
		exec.Command("ip", "route", "add", "local", "10.241.11.0/24", "dev", "lo").Run()
		gen1, l1 = h.Current()
		exec.Command("ip", "rule", "add", "to", "10.241.19.0/24", "lookup", "244").Run()
		gen2, l2 = h.Current()
	})
	if h == nil {
		return
	}
	defer h.Close()
	for _, p := range []string{"10.241.7.0/24", "10.241.9.0/24", "fd77::/128", "10.241.13.0/24", "10.241.15.0/24"} {
		if !slices.Contains(l0, netip.MustParsePrefix(p)) {
			t.Errorf("%s is the namespace's own and not blocked: %v", p, l0)
		}
	}
	if slices.Contains(l0, netip.MustParsePrefix("0.0.0.0/0")) {
		t.Errorf("a local default route of marked packets only blocks everything: %v", l0)
	}
	if later := netip.MustParsePrefix("10.241.11.0/24"); !slices.Contains(l1, later) || gen1 == gen0 {
		t.Errorf("after a local route was added: generation %d (was %d), list has it: %v", gen1, gen0, slices.Contains(l1, later))
	}
	if ruled := netip.MustParsePrefix("10.241.19.0/24"); slices.Contains(l1, ruled) || !slices.Contains(l2, ruled) || gen2 == gen1 {
		t.Errorf("after a rule made a table's local route apply: generation %d (was %d), list has it: %v (before: %v)", gen2, gen1, slices.Contains(l2, ruled), slices.Contains(l1, ruled))
	}
}
