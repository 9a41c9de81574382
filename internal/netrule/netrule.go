// Package netrule is the address arithmetic of the rule that keeps an app
// from the host and its neighbours, shared by the two places that apply
// it: the WASI layer in the container process (wasi/internal/sys), and
// the process that makes its host sockets (cni/procnet), which holds the
// container process to the same rule whatever it does.
package netrule

import "net/netip"

// Effective returns the address Linux delivers a connect or sendto to
// when the destination is addr: an IPv4-mapped address is unmapped, the
// unspecified IPv4 address (0.0.0.0) is 127.0.0.1 and the unspecified IPv6
// address (::) is ::1 (Linux, like BSD, treats "any" as "this host"). A
// zone is dropped: it picks an interface, not another destination.
func Effective(addr netip.Addr) netip.Addr {
	addr = addr.Unmap().WithZone("")
	switch {
	case addr == netip.IPv4Unspecified():
		return netip.AddrFrom4([4]byte{127, 0, 0, 1})
	case addr == netip.IPv6Unspecified():
		return netip.IPv6Loopback()
	}
	return addr
}

// LongestMatch returns the length of the longest prefix in ps containing
// addr (an Effective address), or -1; an IPv4-mapped prefix counts as its
// IPv4 one.
func LongestMatch(ps []netip.Prefix, addr netip.Addr) int {
	best := -1
	for _, p := range ps {
		if p.Addr().Unmap().Is4() != addr.Is4() {
			continue
		}
		pp := netip.PrefixFrom(p.Addr().Unmap(), p.Bits())
		if p.Addr().Is4In6() {
			pp = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		if pp.Contains(addr) && pp.Bits() > best {
			best = pp.Bits()
		}
	}
	return best
}

// Opens reports whether the egress policy's allow prefixes open ip, an
// address a block of bits bits covers (the host's own, another app's,
// loopback, link-local): an allow prefix at least as specific as the
// block (so allow = ["0.0.0.0/0"] does not open the host) and more
// specific than any deny prefix (deny wins a tie). Host-name entries
// never open one: the answer for a name is its DNS server's to give.
func Opens(allow, deny []netip.Prefix, ip netip.Addr, bits int) bool {
	b := LongestMatch(allow, ip)
	return b > 0 && b >= bits && b > LongestMatch(deny, ip)
}
