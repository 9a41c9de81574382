package sys

import (
	"net/netip"
)

// Egress is a host-side policy on the addresses a guest may send to. It is
// checked at connect and send_to and filters what getaddrinfo returns, so a
// guest cannot get around it; it applies on top of the network namespace.
//
// The most specific matching prefix decides (on a tie, deny wins). An
// address no prefix matches is allowed when Allow is empty and denied
// otherwise, so `allow = [...]` alone is an allow list and `deny = [...]`
// alone a block list. Loopback gets no exception: deny = ["0.0.0.0/0"]
// blocks the guest's own 127.0.0.1 too unless allow names it.
type Egress struct {
	Allow, Deny []netip.Prefix
}

// Permits reports whether the guest may send to addr. A nil policy permits
// everything.
func (e *Egress) Permits(addr netip.Addr) bool {
	if e == nil || (len(e.Allow) == 0 && len(e.Deny) == 0) {
		return true
	}
	addr = addr.Unmap()
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
