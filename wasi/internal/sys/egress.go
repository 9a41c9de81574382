package sys

import (
	"net/netip"

	"github.com/wasmrun/wasmrun/internal/netrule"
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
// address no prefix matches is allowed when there is no allow entry (prefix
// or name) and denied otherwise, so `allow = [...]` alone is an allow list
// and `deny = [...]` alone a block list. Loopback gets no exception: deny =
// ["0.0.0.0/0"] blocks the guest's own 127.0.0.1 too unless allow names it.
//
// Name entries (see NameEntry) act at resolution. When the guest resolves
// a name an allow entry matches, the query may go to nameservers the
// prefixes alone would refuse, and the addresses returned to the guest are
// granted to it (for the entry's port, if it has one) for the rest of its
// life. A grant outranks the allow list's default and a catch-all deny
// (0.0.0.0/0, ::/0), never a narrower deny prefix: deny = ["10.0.0.0/8"]
// keeps a name that resolves into 10/8 (DNS rebinding) out. A name a deny
// entry matches (the most specific name entry decides, deny on a tie) is
// never resolved, not even from the hosts file, and no query for it is
// sent; deny names do not block addresses.
//
// An Egress holds one guest's grants: give each guest its own.
type Egress struct {
	Allow, Deny           []netip.Prefix
	AllowNames, DenyNames []NameEntry

	grants grants
}

// EffectiveAddr returns the address Linux delivers a connect or sendto to
// when the destination is addr: an IPv4-mapped address is unmapped, the
// unspecified IPv4 address (0.0.0.0) is 127.0.0.1 and the unspecified IPv6
// address (::) is ::1 (Linux, like BSD, treats "any" as "this host"). A
// zone is dropped: it picks an interface, not another destination.
//
// An IPv4 socket bound to a specific address sends to 0.0.0.0 at that
// address instead; SockConnect and SockSendTo check it too.
func EffectiveAddr(addr netip.Addr) netip.Addr { return netrule.Effective(addr) }

// Permits reports whether the guest may send to addr at port, judged at
// EffectiveAddr(addr). A nil policy permits everything.
func (e *Egress) Permits(addr netip.Addr, port uint16) bool {
	return e.permits(addr, port, false)
}

// permits is Permits, with granted saying to judge addr as if a name had
// been granted it.
func (e *Egress) permits(addr netip.Addr, port uint16, granted bool) bool {
	return e.judge(addr, port, granted, true)
}

// nameserverPermits reports whether a DNS query may go to server:port,
// with granted saying to judge it as if the name queried had been granted
// it. The addresses other names resolved to do not count: they were
// granted for those names' own traffic, and one that is the nameserver's
// address (an allowed name resolved to it) would otherwise let every
// name's query out under a policy that denies everything.
func (e *Egress) nameserverPermits(server netip.Addr, port uint16, granted bool) bool {
	return e.judge(server, port, granted, false)
}

// judge is permits, counting the grants names made when withGrants.
func (e *Egress) judge(addr netip.Addr, port uint16, granted, withGrants bool) bool {
	if e == nil || len(e.Allow)+len(e.Deny)+len(e.AllowNames) == 0 {
		return true
	}
	addr = EffectiveAddr(addr)
	granted = granted || withGrants && e.grants.has(addr, port)
	allow, deny := longestMatch(e.Allow, addr), longestMatch(e.Deny, addr)
	switch {
	case deny >= 0 && deny >= allow:
		// A name's grant outranks only a catch-all deny (/0).
		return deny == 0 && granted
	case allow >= 0, len(e.Allow)+len(e.AllowNames) == 0:
		return true
	}
	return granted
}

// Check returns EPERM for an address and port the policy denies: the errno
// Linux gives when its own firewall drops outgoing packets.
func (e *Egress) Check(addr netip.Addr, port uint16) Errno {
	if e.Permits(addr, port) {
		return ESUCCESS
	}
	return EPERM
}

// longestMatch returns the length of the longest prefix in ps containing
// addr, or -1.
var longestMatch = netrule.LongestMatch

// names reports whether an allow entry names ip, a blocked address (the
// host's, another app's, loopback, link-local), as netrule.Opens has it:
// only an address prefix does, never a host-name entry, whatever its
// name resolved to (pointing an allowed name at 169.254.169.254 or the
// host's own address, DNS rebinding, must not open them).
func (e *Egress) names(ip netip.Addr, bits int) bool {
	return e != nil && netrule.Opens(e.Allow, e.Deny, ip, bits)
}
