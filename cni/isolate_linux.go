package cni

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
)

// Isolation of a namespace on the CNI bridge.
//
// Every namespace of ours on a bridge shares one L2 segment with the other
// apps and has the host's bridge address as its gateway. Without rules, an
// app reaches services the host binds to 0.0.0.0 (through the gateway),
// every other app's ports (forwarded or not), networks behind the host,
// and, since portmap turns on route_localnet on the bridge, the host's
// 127.0.0.1-only services with a packet sent out of eth0 (the pattern of
// CVE-2020-8558). So, after ADD:
//
//   - the host-side veth becomes an isolated bridge port (IFLA_BRPORT_
//     ISOLATED): isolated ports exchange no frame with each other, only
//     with the bridge itself, so apps cannot reach each other at L2;
//   - a filter table in the namespace itself (iptables-restore run inside
//     it, for IPv4 and IPv6) lets in only loopback traffic, replies, and
//     new connections to the forwarded guest ports from anywhere but the
//     other apps; and lets out only loopback traffic, replies and, for an
//     app with outbound traffic (Request.Bridge), new connections to
//     anything but the host's own addresses, the bridge subnet, loopback
//     (the martian 127/8 of CVE-2020-8558) and multicast/broadcast.
//
// The rules live in the namespace, so they go with it: teardown and GC have
// nothing to remove on the host. The guest cannot change them: WASI offers
// no netlink, and the socket layer refuses SO_BINDTODEVICE.

// isolation is what the rules of one namespace are made from.
type isolation struct {
	subnet   netip.Prefix
	gateway  netip.Addr
	forwards []Forward
	outbound bool
	// hostAddrs are the host's own addresses when the rules are made.
	hostAddrs []netip.Addr
}

// rules returns the iptables-restore input for family 4 or 6.
func (iso *isolation) rules(family int) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	is6 := family == 6
	loopback, icmp := "127.0.0.0/8", "icmp"
	if is6 {
		loopback, icmp = "::1/128", "ipv6-icmp"
	}
	onSubnet := iso.subnet.IsValid() && iso.subnet.Addr().Is6() == is6
	// What the app sends where it may not is rejected, not dropped, so
	// its connect fails at once (EHOSTUNREACH) instead of timing out.
	reject := "REJECT --reject-with icmp-admin-prohibited"
	if is6 {
		reject = "REJECT --reject-with icmp6-adm-prohibited"
	}
	w("*filter")
	w(":INPUT DROP [0:0]")
	w(":FORWARD DROP [0:0]")
	w(":OUTPUT DROP [0:0]")

	w("-A INPUT -i lo -j ACCEPT")
	w("-A INPUT -m conntrack --ctstate INVALID -j DROP")
	w("-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT")
	w("-A INPUT -d %s -j DROP", loopback) // martian: loopback not from lo
	if is6 {
		// Neighbour discovery (what ARP is to IPv4; iptables never sees ARP).
		for _, t := range []string{"neighbour-solicitation", "neighbour-advertisement", "router-advertisement"} {
			w("-A INPUT -p %s --icmpv6-type %s -j ACCEPT", icmp, t)
		}
	}
	if onSubnet {
		// Only the host (the gateway: portmap's SNAT, or a DNAT from
		// outside) may come in; the other apps on the subnet may not.
		w("-A INPUT -s %s -j ACCEPT", netip.PrefixFrom(iso.gateway, iso.gateway.BitLen()))
		w("-A INPUT -s %s -j DROP", iso.subnet)
		for _, f := range iso.forwards {
			w("-A INPUT -p %s --dport %d -j ACCEPT", f.Proto(), f.GuestPort)
		}
	}

	w("-A OUTPUT -o lo -j ACCEPT")
	w("-A OUTPUT -m conntrack --ctstate INVALID -j DROP")
	w("-A OUTPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT")
	w("-A OUTPUT -d %s -j %s", loopback, reject)
	if is6 {
		for _, t := range []string{"neighbour-solicitation", "neighbour-advertisement", "router-solicitation"} {
			w("-A OUTPUT -p %s --icmpv6-type %s -j ACCEPT", icmp, t)
		}
	}
	if onSubnet && iso.outbound {
		w("-A OUTPUT -d %s -j %s", iso.subnet, reject)
		for _, a := range iso.hostAddrs {
			if a.Is6() == is6 {
				w("-A OUTPUT -d %s -j %s", netip.PrefixFrom(a, a.BitLen()), reject)
			}
		}
		if is6 {
			w("-A OUTPUT -d fe80::/10 -j %s", reject)
			w("-A OUTPUT -d ff00::/8 -j %s", reject)
		} else {
			w("-A OUTPUT -d 224.0.0.0/4 -j %s", reject)
			w("-A OUTPUT -d 255.255.255.255/32 -j %s", reject)
		}
		w("-A OUTPUT -j ACCEPT")
	}
	w("-A OUTPUT -j %s", reject)
	w("COMMIT")
	return b.String()
}

// hostAddrs returns every address of this (the host's) network namespace.
func hostAddrs() ([]netip.Addr, error) {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list host addresses: %w", err)
	}
	var out []netip.Addr
	for _, a := range as {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Zone() == "" {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out, nil
}

// iptablesRestore is the program that loads the rules for family 4 or 6;
// tests may point it elsewhere.
var iptablesRestore = map[int]string{4: "iptables-restore", 6: "ip6tables-restore"}

// isolate puts st's namespace behind its rules and makes its bridge port
// isolated. It fails closed: a namespace whose rules could not be loaded is
// not used.
func (m *Manager) isolate(st *state, hostVeth string, forwards []Forward, outbound bool) error {
	t0 := time.Now()
	if hostVeth == "" {
		return fmt.Errorf("isolate namespace %s: the CNI result names no host-side veth", st.Name)
	}
	if err := isolatePort(hostVeth); err != nil {
		return fmt.Errorf("isolate namespace %s: %w", st.Name, err)
	}
	iso := &isolation{gateway: st.Gateway, forwards: forwards, outbound: outbound}
	if len(st.Addrs) > 0 {
		iso.subnet = st.Addrs[0].Masked()
	}
	if outbound {
		var err error
		if iso.hostAddrs, err = hostAddrs(); err != nil {
			return fmt.Errorf("isolate namespace %s: %w", st.Name, err)
		}
	}
	// Both families at once, each from its own thread in the namespace:
	// an iptables-restore takes ~15 ms, most of the isolation's cost.
	n := &Namespace{Path: st.Path}
	errc := make(chan error, 2)
	for _, fam := range []int{4, 6} {
		go func() { errc <- n.Do(func() error { return restore(fam, iso.rules(fam)) }) }()
	}
	if err := errors.Join(<-errc, <-errc); err != nil {
		return fmt.Errorf("isolate namespace %s: %w", st.Name, err)
	}
	m.cfg.Log("firewall in %s: in only lo, replies and forwards; out %s (%s)", st.Name,
		map[bool]string{true: "all but the host, the bridge subnet and other apps", false: "only lo and replies"}[outbound],
		time.Since(t0).Round(time.Microsecond))
	return nil
}

// restore runs iptables-restore (or ip6tables-restore) with rules in the
// calling thread's network namespace.
func restore(family int, rules string) error {
	prog := iptablesRestore[family]
	path, err := exec.LookPath(prog)
	if err != nil {
		return fmt.Errorf("%s not found (install iptables): %w", prog, err)
	}
	cmd := exec.Command(path, "-w", "5")
	cmd.Stdin = strings.NewReader(rules)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", prog, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// isolatePort sets the bridge port flag "isolated" on the host-side veth
// (as `bridge link set dev VETH isolated on`).
func isolatePort(veth string) error {
	l, err := netlink.LinkByName(veth)
	if err != nil {
		return fmt.Errorf("find host veth %s: %w", veth, err)
	}
	if err := netlink.LinkSetIsolated(l, true); err != nil {
		return fmt.Errorf("make bridge port %s isolated: %w", veth, err)
	}
	return nil
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
