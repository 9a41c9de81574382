package wasi

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// Egress is a host-side policy on where a guest's sockets may connect and
// send: the most specific matching prefix decides (deny on a tie); with an
// allow entry (prefix or name), anything unmatched is denied, otherwise
// allowed. It judges where the kernel delivers, not the literal address:
// 0.0.0.0, :: and ::ffff:0.0.0.0 count as loopback, an IPv4-mapped address
// as its IPv4 address. A denied connect or send_to fails with EPERM, as
// when the kernel's firewall drops the packet; denied addresses are dropped
// from getaddrinfo results, and getaddrinfo sends queries only to
// nameservers the policy permits (with none, a name not in the hosts file
// is EAI_FAIL, whether or not it exists: the guest learns nothing about
// it).
//
// AllowNames and DenyNames are judged when the guest resolves a name with
// sock_getaddrinfo (the most specific name entry decides, deny on a tie):
//   - A name an allow entry matches may be looked up even at nameservers
//     the prefixes refuse, and the addresses returned to the guest become
//     usable by it (at the entry's port, if it has one) for the rest of its
//     life (at most the 4096 latest). They outrank the allow list's default
//     and a catch-all deny (0.0.0.0/0, ::/0), never a narrower deny prefix,
//     so a name cannot be pointed into a range deny names, and never an
//     Outside's or VirtualPorts' Blocked addresses (the host itself, other
//     apps, link-local): only an address entry opens those, so a name its
//     DNS server points there (rebinding) does not.
//   - A name a deny entry matches is EAI_FAIL, even if the hosts file has
//     it, and no DNS query for it leaves; its addresses are not blocked.
//   - Every query the resolver sends (search-list expansions too) is
//     judged again as it leaves, so only names the policy lets out do.
//
// Build one with AddAllow and AddDeny; Instantiate checks the names of one
// built by hand.
type Egress struct {
	Allow, Deny           []netip.Prefix
	AllowNames, DenyNames []EgressName `json:",omitempty"`
}

// EgressName is a host-name entry: an exact name, or "*.suffix" for any
// name ending in ".suffix" (not suffix itself), in lower case without a
// trailing dot. Port, when not 0, limits an allow entry to that port.
type EgressName struct {
	Name string
	Port uint16
}

// String is the entry as ParseEgressEntry reads it.
func (n EgressName) String() string { return sys.NameEntry(n).String() }

// EgressEntry is one parsed allow or deny entry: a Prefix, or else a Name.
type EgressEntry struct {
	Prefix netip.Prefix
	Name   EgressName
}

// String is the entry as ParseEgressEntry reads it.
func (e EgressEntry) String() string {
	if e.Prefix.IsValid() {
		return e.Prefix.String()
	}
	return e.Name.String()
}

// ParseEgressEntry parses an allow or deny entry: a CIDR ("10.0.0.0/8"),
// an address (a prefix of its full length), or a host name with an
// optional port and leading wildcard ("api.example.com",
// "api.example.com:443", "*.internal", "*.internal:8443"). Addresses take
// no port and no zone.
func ParseEgressEntry(s string) (EgressEntry, error) {
	if s == "" {
		return EgressEntry{}, fmt.Errorf("empty egress entry")
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		return EgressEntry{Prefix: p.Masked()}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return EgressEntry{}, fmt.Errorf("egress entry %q: an address takes no zone", s)
		}
		return EgressEntry{Prefix: netip.PrefixFrom(a, a.BitLen())}, nil
	}
	if _, err := netip.ParseAddrPort(s); err == nil || strings.HasPrefix(s, "[") {
		return EgressEntry{}, fmt.Errorf("egress entry %q: only a host name takes a port (an address entry applies to every port)", s)
	}
	if strings.Contains(s, "/") {
		return EgressEntry{}, fmt.Errorf("egress entry %q: not a CIDR", s)
	}
	n, err := sys.ParseName(s)
	if err != nil {
		return EgressEntry{}, fmt.Errorf("egress entry %q: %w", s, err)
	}
	return EgressEntry{Name: EgressName(n)}, nil
}

// AddAllow parses entry (see ParseEgressEntry) and adds it to Allow or
// AllowNames.
func (e *Egress) AddAllow(entry string) error {
	p, err := ParseEgressEntry(entry)
	if err != nil {
		return err
	}
	if p.Prefix.IsValid() {
		e.Allow = append(e.Allow, p.Prefix)
	} else {
		e.AllowNames = append(e.AllowNames, p.Name)
	}
	return nil
}

// AddDeny parses entry (see ParseEgressEntry) and adds it to Deny or
// DenyNames. A deny name takes no port: it is refused at resolution,
// before any port is known.
func (e *Egress) AddDeny(entry string) error {
	p, err := ParseEgressEntry(entry)
	if err != nil {
		return err
	}
	switch {
	case p.Prefix.IsValid():
		e.Deny = append(e.Deny, p.Prefix)
	case p.Name.Port != 0:
		return fmt.Errorf("egress entry %q: a deny name takes no port (the name is refused when resolved, before any port is known)", entry)
	default:
		e.DenyNames = append(e.DenyNames, p.Name)
	}
	return nil
}

// sys is the policy for one guest's system layer, nil when it has no
// entries. Names are checked again: an Egress may be built by hand or
// decoded from JSON.
func (e Egress) sys() (*sys.Egress, error) {
	if len(e.Allow)+len(e.Deny)+len(e.AllowNames)+len(e.DenyNames) == 0 {
		return nil, nil
	}
	allow, err := sysNames(e.AllowNames, false)
	if err != nil {
		return nil, err
	}
	deny, err := sysNames(e.DenyNames, true)
	if err != nil {
		return nil, err
	}
	return &sys.Egress{Allow: e.Allow, Deny: e.Deny, AllowNames: allow, DenyNames: deny}, nil
}

func sysNames(names []EgressName, deny bool) ([]sys.NameEntry, error) {
	var out []sys.NameEntry
	for _, n := range names {
		p, err := sys.ParseName(n.String())
		if err != nil || p != sys.NameEntry(n) || deny && n.Port != 0 {
			return nil, fmt.Errorf("egress name %q: not in the form ParseEgressEntry gives", n)
		}
		out = append(out, p)
	}
	return out, nil
}
