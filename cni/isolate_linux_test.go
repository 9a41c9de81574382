package cni

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// outsideHost is a test's stand-in for the world beyond the host: a network
// namespace of its own with a veth to the host, host side hostAddr and
// inside addr (10.250.N.1 and .2/30), and a TCP server in it.
type outsideHost struct {
	hostAddr, addr netip.Addr
	server         string // addr:port of the TCP server inside
}

func newOutsideHost(t *testing.T) *outsideHost {
	t.Helper()
	e := newTestEnv(t) // a private prefix and dirs; the namespace is ours
	n := e.setup(Request{Mode: ModeNew, ID: "out"})
	var b [2]byte
	rand.Read(b[:])
	host := "wro" + hex.EncodeToString(b[:])
	base := netip.AddrFrom4([4]byte{10, 250, b[0], b[1] &^ 3})
	o := &outsideHost{hostAddr: base.Next(), addr: base.Next().Next()}
	peer := host + "p"
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: host}, PeerName: peer}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatalf("add veth: %v", err)
	}
	t.Cleanup(func() { netlink.LinkDel(veth) })
	pl, err := netlink.LinkByName(peer)
	if err != nil {
		t.Fatal(err)
	}
	nsh, err := netlinkNS(n.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetNsFd(pl, nsh); err != nil {
		t.Fatal(err)
	}
	hl, _ := netlink.LinkByName(host)
	if err := netlink.AddrAdd(hl, &netlink.Addr{IPNet: prefixNet(netip.PrefixFrom(o.hostAddr, 30))}); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(hl); err != nil {
		t.Fatal(err)
	}
	err = n.Do(func() error {
		l, err := netlink.LinkByName(peer)
		if err != nil {
			return err
		}
		if err := netlink.AddrAdd(l, &netlink.Addr{IPNet: prefixNet(netip.PrefixFrom(o.addr, 30))}); err != nil {
			return err
		}
		return netlink.LinkSetUp(l)
	})
	if err != nil {
		t.Fatal(err)
	}
	s := startEcho(t, n, net.JoinHostPort(o.addr.String(), "0"), "outside", false)
	o.server = s.l.Addr().String()
	return o
}

func netlinkNS(path string) (int, error) {
	return unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// dialFrom connects from inside n to addr (optionally bound to device dev
// with SO_BINDTODEVICE, as a guest with raw access would) and reads the
// echo server's answer to "hi".
func dialFrom(n *Namespace, addr, dev string) (string, error) {
	var got string
	err := n.Do(func() error {
		d := net.Dialer{Timeout: 2 * time.Second}
		if dev != "" {
			d.Control = func(_, _ string, c syscall.RawConn) error {
				var serr error
				c.Control(func(fd uintptr) { serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, dev) })
				return serr
			}
		}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("hi\n")); err != nil {
			return err
		}
		b := make([]byte, 64)
		k, err := c.Read(b)
		got = string(b[:k])
		return err
	})
	return got, err
}

// The attacks of an app on the bridge, each tried for real from inside its
// namespace with the kernel's own sockets (what a guest could do with any
// bug in the WASI layer): the host's services (through the gateway, the
// host's other addresses, and 127.0.0.1 with SO_BINDTODEVICE: the
// CVE-2020-8558 pattern), other apps' forwarded and unforwarded ports, and
// for an app without outbound traffic, the outside. Forwards keep working,
// and an app with outbound traffic reaches the outside.
func TestBridgeIsolation(t *testing.T) {
	requirePlugins(t, "bridge", "host-local", "portmap")
	out := newOutsideHost(t)
	e := newTestEnv(t)
	pb := freePort(t)
	a := e.setup(Request{Mode: ModeNew, ID: e.id(), Bridge: true})
	b := e.setup(Request{Mode: ModeNew, ID: e.id(), Forwards: []Forward{{HostPort: pb, GuestPort: 3000}}})
	startEcho(t, b, ":3000", "B", false)
	startEcho(t, b, ":4000", "B4000", false)
	startEcho(t, a, ":3000", "A", false)

	// Host services: one on every address, one on 127.0.0.1 only.
	_, allPort, _ := net.SplitHostPort(startHostServer(t, ":0", "host\n"))
	local := startHostServer(t, "127.0.0.1:0", "host-local\n")

	for _, v := range []string{a.Name, b.Name} {
		st, err := e.m.readState(v)
		if err != nil {
			t.Fatal(err)
		}
		if iso, err := portIsolated(st.HostVeth); err != nil || !iso {
			t.Errorf("%s: bridge port %s isolated %v, %v", v, st.HostVeth, iso, err)
		}
	}

	bAddr := b.Addrs[0].Addr().String()
	for _, c := range []struct {
		name    string
		from    *Namespace
		addr    string
		dev     string
		want    string // "" = must fail
		refused bool   // fails at once: rejected in the app's own namespace
	}{
		{"outbound app reaches the outside", a, out.server, "", "outside: hi\n", false},
		{"host via gateway", a, net.JoinHostPort(a.Gateway.String(), allPort), "", "", true},
		{"host via its outside address", a, net.JoinHostPort(out.hostAddr.String(), allPort), "", "", true},
		{"host 127.0.0.1 out of eth0", a, local, "eth0", "", true},
		{"neighbour's forwarded port", a, net.JoinHostPort(bAddr, "3000"), "", "", true},
		{"neighbour's other port", a, net.JoinHostPort(bAddr, "4000"), "", "", true},
		{"forward-only app to the outside", b, out.server, "", "", true},
		{"forward-only app to the host", b, net.JoinHostPort(b.Gateway.String(), allPort), "", "", true},
		{"forward-only app to host 127.0.0.1 out of eth0", b, local, "eth0", "", true},
		{"forward-only app to its neighbour", b, net.JoinHostPort(a.Addrs[0].Addr().String(), "3000"), "", "", true},
	} {
		got, err := dialFrom(c.from, c.addr, c.dev)
		switch {
		case c.want != "" && (err != nil || got != c.want):
			t.Errorf("%s (%s): got %q, %v; want %q", c.name, c.addr, got, err, c.want)
		case c.want == "" && err == nil:
			t.Errorf("%s (%s): connected (answer %q); want it refused", c.name, c.addr, got)
		case c.want == "" && c.refused && !errors.Is(err, syscall.EHOSTUNREACH):
			t.Errorf("%s (%s): %v; want EHOSTUNREACH (rejected in the namespace)", c.name, c.addr, err)
		}
	}
	// Only what reaches b through its forward gets in: the host too
	// reaches no other port of it.
	if got, err := askTCP(fmt.Sprintf("127.0.0.1:%d", pb), "hello"); err != nil || got != "B: hello" {
		t.Errorf("forward to b: %q, %v", got, err)
	}
	if got, err := askTCP(net.JoinHostPort(bAddr, "4000"), "hello"); err == nil {
		t.Errorf("the host reached b's unforwarded port %s:4000 (answer %q)", bAddr, got)
	}
	if got, err := dialFrom(b, "127.0.0.1:4000", ""); err != nil || got != "B4000: hi\n" {
		t.Errorf("b's own loopback: %q, %v", got, err)
	}
	ctx := context.Background()
	a.Teardown(ctx)
	b.Teardown(ctx)
	e.assertGone(a.Name)
	e.assertGone(b.Name, pb)
}

// startHostServer starts a TCP server in the host namespace that writes
// answer to each connection, and returns its address.
func startHostServer(t *testing.T, addr, answer string) string {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(answer))
			c.Close()
		}
	}()
	return l.Addr().String()
}

// The rules of each family follow the subnet's family: an IPv6 subnet's
// forwards and neighbours are filtered by ip6tables, and IPv4 then only
// has loopback.
func TestIsolationRulesFamily(t *testing.T) {
	iso := &isolation{
		subnet: netip.MustParsePrefix("fd00:1::/64"), gateway: netip.MustParseAddr("fd00:1::1"),
		forwards: []Forward{{HostPort: 80, GuestPort: 8080}}, outbound: true,
		hostAddrs: []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")},
	}
	v4, v6 := iso.rules(4), iso.rules(6)
	for _, c := range []struct {
		rules, line string
		want        bool
	}{
		{v6, "-A FORWARDS -p tcp --dport 8080 -j ACCEPT", true},
		{v6, "-A INPUT -s fd00:1::1/128 -j FORWARDS", true},
		{v6, "-A INPUT ! -s fd00:1::/64 -j FORWARDS", true},
		{v6, "-A OUTPUT -d 2001:db8::1/128 -j REJECT", true},
		{v6, "-A OUTPUT -d 192.0.2.1/32", false},
		{v6, "-A OUTPUT -j ACCEPT", true},
		{v4, "--dport 8080", false},
		{v4, "-j FORWARDS", false},
		{v4, "-A OUTPUT -j ACCEPT", false},
		{v4, ":OUTPUT DROP", true},
	} {
		if got := strings.Contains(c.rules, c.line); got != c.want {
			t.Errorf("rules contain %q: %v, want %v\n%s", c.line, got, c.want, c.rules)
		}
	}
}

// A bridge wasmrun did not create (docker0, virbr0, ...) is refused before
// anything is created, and neither the failed run nor a teardown touches
// it; a subnet overlapping a network the host is on is refused too.
func TestForeignBridgeUntouched(t *testing.T) {
	requirePlugins(t, "bridge", "host-local", "portmap")
	e := newTestEnv(t)
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: e.cfg.Bridge.Name}}
	if err := netlink.LinkAdd(br); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { netlink.LinkDel(br) })
	addr := &netlink.Addr{IPNet: prefixNet(netip.MustParsePrefix("192.168.251.1/24"))}
	if err := netlink.AddrAdd(br, addr); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, req := range []Request{
		{Mode: ModeNew, ID: e.id(), Bridge: true},
		{Mode: ModeNew, ID: e.id(), Forwards: []Forward{{HostPort: freePort(t), GuestPort: 80}}},
	} {
		_, err := e.m.Setup(ctx, req)
		if err == nil || !strings.Contains(err.Error(), "exists on the host and was not created by wasmrun") {
			t.Fatalf("Setup on a foreign bridge: %v", err)
		}
		e.assertGone(e.m.NamespaceName(req.ID))
	}
	l, err := netlink.LinkByName(br.Name)
	if err != nil {
		t.Fatalf("foreign bridge deleted: %v", err)
	}
	as, _ := netlink.AddrList(l, netlink.FAMILY_V4)
	if len(as) != 1 || as[0].IPNet.String() != "192.168.251.1/24" {
		t.Fatalf("foreign bridge addresses changed: %v", as)
	}

	// The foreign bridge's network as our subnet, with another bridge name.
	cfg := e.cfg
	cfg.Bridge.Name, cfg.Bridge.Subnet = e.prefix+"b2", "192.168.251.0/24"
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(cfg.Bridge.Name); err == nil {
			netlink.LinkDel(l)
		}
	})
	id := e.id()
	_, err = m.Setup(ctx, Request{Mode: ModeNew, ID: id, Bridge: true})
	if err == nil || !strings.Contains(err.Error(), "overlaps the host's network 192.168.251.0/24") {
		t.Fatalf("Setup with an overlapping subnet: %v", err)
	}
	if _, err := netlink.LinkByName(cfg.Bridge.Name); err == nil {
		t.Errorf("bridge %s created for a refused subnet", cfg.Bridge.Name)
	}
	e.assertGone(m.NamespaceName(id))
}

// portIsolated reports whether the bridge port veth has the isolated flag.
func portIsolated(veth string) (bool, error) {
	l, err := netlink.LinkByName(veth)
	if err != nil {
		return false, err
	}
	info, err := netlink.LinkGetProtinfo(l)
	if err != nil {
		return false, err
	}
	return info.Isolated, nil
}

// TestHostGuard: a bridge's host guard is a chain INPUT jumps to for what
// comes from the bridge, made once (a second guard is a no-op), removed
// whole by unguardHost; a new guard removes those of bridges that are
// gone.
func TestHostGuard(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (iptables)")
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("needs iptables")
	}
	gone, kept := fmt.Sprintf("wrgd%dg", os.Getpid()%100000), fmt.Sprintf("wrgd%dk", os.Getpid()%100000)
	t.Cleanup(func() { unguardHost(gone); unguardHost(kept) })
	has := func(fam int, bridge string) bool {
		return iptables(fam, "-C", "INPUT", "-i", bridge, "-j", hostGuardChain(bridge)) == nil
	}
	if err := guardHost(gone); err != nil {
		t.Fatal(err)
	}
	if err := guardHost(gone); err != nil {
		t.Fatal(err)
	}
	for _, fam := range []int{4, 6} {
		out, _ := exec.Command(map[int]string{4: "iptables-save", 6: "ip6tables-save"}[fam], "-t", "filter").Output()
		if n := strings.Count(string(out), "-A INPUT -i "+gone+" -j "); n != 1 {
			t.Errorf("IPv%d: %d jumps to the guard, want 1:\n%s", fam, n, out)
		}
		if !strings.Contains(string(out), "-A "+hostGuardChain(gone)+" -m addrtype --dst-type LOCAL -j REJECT") {
			t.Errorf("IPv%d: the guard refuses nothing:\n%s", fam, out)
		}
	}
	// No link of that name exists: the next new guard removes it.
	if err := guardHost(kept); err != nil {
		t.Fatal(err)
	}
	for _, fam := range []int{4, 6} {
		if has(fam, gone) || iptables(fam, "-n", "-L", hostGuardChain(gone)) == nil {
			t.Errorf("IPv%d: the guard of a bridge that is gone stayed", fam)
		}
		if !has(fam, kept) {
			t.Errorf("IPv%d: no guard made", fam)
		}
	}
	if err := unguardHost(kept); err != nil {
		t.Fatal(err)
	}
	for _, fam := range []int{4, 6} {
		if has(fam, kept) || iptables(fam, "-n", "-L", hostGuardChain(kept)) == nil {
			t.Errorf("IPv%d: unguardHost left the guard", fam)
		}
	}
}
