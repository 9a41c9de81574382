package cni

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
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
//     other apps (the host too reaches no other port); and lets out only loopback traffic, replies and, for an
//     app with outbound traffic (Request.Bridge), new connections to
//     anything but the host's own addresses, the bridge subnet, loopback
//     (the martian 127/8 of CVE-2020-8558) and multicast/broadcast.
//
// The rules live in the namespace, so they go with it: teardown and GC have
// nothing to remove on the host. The guest cannot change them: WASI offers
// no netlink, and the socket layer refuses SO_BINDTODEVICE. The host's
// addresses are the host's as they were then; the bridge's host guard
// (hostguard_linux.go) refuses what an app sends to the host itself
// whenever an address came, broadcast ones included.

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
	w(":FORWARDS - [0:0]")

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
		// New connections come only to the forwarded guest ports, from
		// the host (the gateway: portmap's SNAT for a local client) or
		// from beyond it (a DNAT keeps the client's address), never
		// from the other apps on the subnet.
		w("-A INPUT -s %s -j FORWARDS", netip.PrefixFrom(iso.gateway, iso.gateway.BitLen()))
		w("-A INPUT ! -s %s -j FORWARDS", iso.subnet)
		for _, f := range iso.forwards {
			w("-A FORWARDS -p %s --dport %d -j ACCEPT", f.Proto(), f.GuestPort)
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

// hostNetworks returns the address and network of every interface address
// of this (the host's) network namespace, as 10.0.0.5/24.
func hostNetworks() ([]netip.Prefix, error) {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list host addresses: %w", err)
	}
	var out []netip.Prefix
	for _, a := range as {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				ones, _ := n.Mask.Size()
				out = append(out, netip.PrefixFrom(ip.Unmap(), ones))
			}
		}
	}
	return out, nil
}

// isolate puts st's namespace (after its ADD) behind its rules and makes
// its bridge port isolated; outbound lets it open connections out. It fails
// closed: a namespace whose rules could not be loaded is not used.
func (m *Manager) isolate(st *state, outbound bool) error {
	t0 := time.Now()
	if st.HostVeth == "" || len(st.Addrs) == 0 {
		return fmt.Errorf("isolate namespace %s: the CNI result names no host-side veth or address", st.Name)
	}
	if err := isolatePort(st.HostVeth); err != nil {
		return fmt.Errorf("isolate namespace %s: %w", st.Name, err)
	}
	if bridge, _ := st.bridgeNetwork(); bridge != "" {
		if err := guardHost(bridge); err != nil {
			return fmt.Errorf("isolate namespace %s: %w", st.Name, err)
		}
	}
	iso := &isolation{subnet: st.Addrs[0].Masked(), gateway: st.Gateway, forwards: st.Forwards, outbound: outbound}
	if outbound {
		nets, err := hostNetworks()
		if err != nil {
			return fmt.Errorf("isolate namespace %s: %w", st.Name, err)
		}
		for _, p := range nets {
			// Loopback and link-local are rejected by range already.
			if a := p.Addr(); !a.IsLoopback() && !a.IsLinkLocalUnicast() && !iso.subnet.Contains(a) {
				iso.hostAddrs = append(iso.hostAddrs, a)
			}
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
	out := "only lo and replies"
	if outbound {
		out = "all but the host, the bridge subnet and other apps"
	}
	m.cfg.Log("firewall in %s: in only lo, replies and forwards; out %s (%s)", st.Name, out, time.Since(t0).Round(time.Microsecond))
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
