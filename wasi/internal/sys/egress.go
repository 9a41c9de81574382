package sys

import (
	"net/netip"
)

// Egress is a host-side policy on the addresses a guest may send to. It is
// checked at connect and send_to, on the nameservers sock_getaddrinfo would
// query, and filters what getaddrinfo returns, so a guest cannot get around
// it; it applies on top of the network namespace.
//
// The policy judges where the kernel delivers, not the literal address the
// guest wrote (see EffectiveAddr): 0.0.0.0, :: and ::ffff:0.0.0.0 are
// loopback, and an IPv4-mapped IPv6 address is its IPv4 address. So deny =
// ["127.0.0.0/8", "::1/128"] also refuses a connect to 0.0.0.0 or [::].
//
// The most specific matching prefix decides (on a tie, deny wins). An
// address no prefix matches is allowed when Allow is empty and denied
// otherwise, so `allow = [...]` alone is an allow list and `deny = [...]`
// alone a block list. Loopback gets no exception: deny = ["0.0.0.0/0"]
// blocks the guest's own 127.0.0.1 too unless allow names it.
type Egress struct {
	Allow, Deny []netip.Prefix
}

// EffectiveAddr returns the address Linux delivers a connect or sendto to
// when the destination is addr: an IPv4-mapped address is unmapped, the
// unspecified IPv4 address (0.0.0.0) is 127.0.0.1 and the unspecified IPv6
// address (::) is ::1 (Linux, like BSD, treats "any" as "this host"). A
// zone is dropped: it picks an interface, not another destination.
//
// An IPv4 socket bound to a specific address sends to 0.0.0.0 at that
// address instead; SockConnect and SockSendTo check it too.
func EffectiveAddr(addr netip.Addr) netip.Addr {
	addr = addr.Unmap().WithZone("")
	switch {
	case addr == netip.IPv4Unspecified():
		return netip.AddrFrom4([4]byte{127, 0, 0, 1})
	case addr == netip.IPv6Unspecified():
		return netip.IPv6Loopback()
	}
	return addr
}

// Permits reports whether the guest may send to addr, judged at
// EffectiveAddr(addr). A nil policy permits everything.
func (e *Egress) Permits(addr netip.Addr) bool {
	if e == nil || (len(e.Allow) == 0 && len(e.Deny) == 0) {
		return true
	}
	addr = EffectiveAddr(addr)
	allow, deny := longestMatch(e.Allow, addr), longestMatch(e.Deny, addr)
	switch {
	case deny >= 0 && deny >= allow:
		return false
	case allow >= 0:
		return true
	}
	return len(e.Allow) == 0
}

// Check returns EPERM for an address the policy denies: the errno Linux
// gives when its own firewall drops outgoing packets.
func (e *Egress) Check(addr netip.Addr) Errno {
	if e.Permits(addr) {
		return ESUCCESS
	}
	return EPERM
}

// longestMatch returns the length of the longest prefix in ps containing
// addr, or -1.
func longestMatch(ps []netip.Prefix, addr netip.Addr) int {
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
