package sys

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
)

// Host-name entries of the egress policy. A name is judged when the guest
// resolves it through sock_getaddrinfo, and again on every DNS query the
// resolver sends for it (search-list expansions included), so what is
// matched is what leaves the app. Names the guest resolves by other means
// (its own DNS client over UDP) are just datagrams to a nameserver, judged
// by address.

// NameEntry is a host-name entry: an exact name, or "*.suffix" for every
// name that ends in ".suffix" (not suffix itself). Name is in lower case
// without a trailing dot. Port, when not 0, limits what an allow entry
// grants to that port.
type NameEntry struct {
	Name string
	Port uint16
}

// String is the entry as ParseName reads it.
func (n NameEntry) String() string {
	if n.Port == 0 {
		return n.Name
	}
	return n.Name + ":" + strconv.Itoa(int(n.Port))
}

// maxName is the longest name DNS can carry, without the trailing dot.
const maxName = 253

// ParseName parses "name", "name:port", "*.suffix" or "*.suffix:port". A
// name is labels of ASCII letters, digits, '-' and '_' (1 to 63 bytes, not
// starting or ending with '-'), at most 253 bytes with one trailing dot
// allowed, and its last label is not all digits (that would read as an
// address). Case is ignored. A wildcard is only a whole first label.
func ParseName(s string) (NameEntry, error) {
	var n NameEntry
	host := s
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		p, err := strconv.ParseUint(s[i+1:], 10, 16)
		if err != nil || p == 0 {
			return NameEntry{}, fmt.Errorf("bad port %q: want 1-65535", s[i+1:])
		}
		host, n.Port = s[:i], uint16(p)
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	suffix, wild := strings.CutPrefix(host, "*.")
	switch {
	case host == "":
		return NameEntry{}, errors.New("empty host name")
	case host == "*":
		return NameEntry{}, errors.New("a wildcard needs a suffix, as in *.example.com")
	case strings.Contains(suffix, "*"):
		return NameEntry{}, errors.New("a wildcard may only be the whole first label, as in *.example.com")
	case len(host) > maxName:
		return NameEntry{}, fmt.Errorf("name longer than %d bytes", maxName)
	}
	if err := validName(suffix); err != nil {
		return NameEntry{}, err
	}
	n.Name = host
	if wild {
		n.Name = "*." + suffix
	}
	return n, nil
}

// validName checks the labels of a lower-case name without a trailing dot.
func validName(name string) error {
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("label %q: want 1 to 63 bytes", l)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("label %q starts or ends with '-'", l)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("label %q: want letters, digits, '-' and '_' (write other names in punycode)", l)
			}
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return errors.New("the last label is all digits: not a host name (an address takes no port and no wildcard)")
	}
	return nil
}

// normalName is how a name the guest gives is compared with entries: in
// lower case, without one trailing dot.
func normalName(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

// rank is how specifically n matches name (already normal), or -1: an
// exact name outranks any wildcard, a longer suffix a shorter one.
func (n NameEntry) rank(name string) int {
	if suffix, ok := strings.CutPrefix(n.Name, "*."); ok {
		if len(name) > len(suffix)+1 && strings.HasSuffix(name, "."+suffix) {
			return len(suffix)
		}
		return -1
	}
	if name == n.Name {
		return maxName + 1
	}
	return -1
}

// Matches reports whether the entry matches name, ignoring case and a
// trailing dot.
func (n NameEntry) Matches(name string) bool { return n.rank(normalName(name)) >= 0 }

// judgeName applies the name entries to name: the most specific matching
// entry decides, deny on a tie. It returns the allow entries that outrank
// every matching deny entry (their ports are what the name's addresses
// get), and whether a deny entry decides.
func (e *Egress) judgeName(name string) (allowed []NameEntry, denied bool) {
	if e == nil || len(e.AllowNames)+len(e.DenyNames) == 0 {
		return nil, false
	}
	name = normalName(name)
	deny := -1
	for _, n := range e.DenyNames {
		deny = max(deny, n.rank(name))
	}
	for _, n := range e.AllowNames {
		if n.rank(name) > deny {
			allowed = append(allowed, n)
		}
	}
	return allowed, deny >= 0 && len(allowed) == 0
}

// queryPermitted reports whether a DNS query for name may go to server: a
// name a deny entry matches goes nowhere; any other name may go to a
// nameserver the policy permits; a name an allow entry matches also to
// one the prefixes refuse only by the allow list's default or a catch-all
// deny (as its addresses will be granted). What other names were granted
// does not count (nameserverPermits).
func (e *Egress) queryPermitted(server netip.Addr, name string) bool {
	allowed, denied := e.judgeName(name)
	switch {
	case denied:
		return false
	}
	return e.nameserverPermits(server, 53, len(allowed) > 0)
}

// maxGrants bounds the addresses allowed names resolved to that one guest
// keeps; the oldest granted is dropped first.
const maxGrants = 4096

// grants are the addresses an allowed name resolved to for the guest, each
// for the entry's port (0: any). They last for the life of the guest (DNS
// TTLs are not tracked): an address stays usable after its record expires,
// until maxGrants newer ones push it out.
type grants struct {
	mu  sync.Mutex
	seq uint64
	m   map[netip.AddrPort]uint64 // -> when granted (seq)
}

// add grants addr (judged at EffectiveAddr) for port, or refreshes it.
func (g *grants) add(addr netip.Addr, port uint16) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = make(map[netip.AddrPort]uint64)
	}
	g.seq++
	g.m[netip.AddrPortFrom(EffectiveAddr(addr), port)] = g.seq
	if len(g.m) <= maxGrants {
		return
	}
	// A linear scan: this runs once per address a lookup returns, and
	// only when full.
	var oldest netip.AddrPort
	first := g.seq
	for k, s := range g.m {
		if s < first {
			oldest, first = k, s
		}
	}
	delete(g.m, oldest)
}

// has reports whether addr (already effective) was granted for port or for
// any port.
func (g *grants) has(addr netip.Addr, port uint16) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.m[netip.AddrPortFrom(addr, 0)]; ok {
		return true
	}
	_, ok := g.m[netip.AddrPortFrom(addr, port)]
	return ok
}

// len is the number of grants held.
func (g *grants) len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.m)
}
