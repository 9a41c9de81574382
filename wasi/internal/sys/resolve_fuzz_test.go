package sys

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/testdns"
)

// FuzzResolverPolicy drives the real resolver, against a real DNS server on
// loopback, with an arbitrary name and a policy of arbitrary entries, and
// checks what a policy promises: every query the server sees was permitted
// to it (queryPermitted: no denied name, and no name the allow entries do
// not match when only they open the nameserver); a name a deny entry
// decides sends no query and fails; and every address returned for a name
// may then be connected to (at the service's port, or at the port of the
// allow entry that granted it).
func FuzzResolverPolicy(f *testing.F) {
	f.Add("api.test", "api.test:80", "", false)
	f.Add("x.internal", "*.internal", "secret.internal", false)
	f.Add("secret.internal", "*.internal", "secret.internal", true)
	f.Add("Other.Test.", "api.test", "*.test", true)
	f.Add("api", "api.test", "", false) // search-list expansions
	var mu sync.Mutex
	var seen []string
	dns := testdns.StartFunc(f, map[string][]net.IP{
		"api.test.":        {net.IPv4(10, 9, 9, 9)},
		"x.internal.":      {net.IPv4(10, 9, 9, 10), net.ParseIP("fd00::10")},
		"secret.internal.": {net.IPv4(10, 9, 9, 11)},
		"other.test.":      {net.IPv4(192, 0, 2, 7)},
	}, func(name string) {
		mu.Lock()
		seen = append(seen, name)
		mu.Unlock()
	})
	dir := f.TempDir()
	conf, hosts := filepath.Join(dir, "resolv.conf"), filepath.Join(dir, "hosts")
	os.WriteFile(conf, []byte("nameserver "+dns.IP+"\nsearch test internal\noptions timeout:1 attempts:1\n"), 0o644)
	os.WriteFile(hosts, []byte("10.1.2.3 inhosts.test\n"), 0o644)
	server := netip.MustParseAddr(dns.IP)

	f.Fuzz(func(t *testing.T, node, allow, deny string, serverAllowed bool) {
		e := &Egress{Deny: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}}
		for _, s := range strings.Split(allow, ",") {
			if n, err := ParseName(s); err == nil {
				e.AllowNames = append(e.AllowNames, n)
			}
		}
		for _, s := range strings.Split(deny, ",") {
			if n, err := ParseName(s); err == nil && n.Port == 0 {
				e.DenyNames = append(e.DenyNames, n)
			}
		}
		if serverAllowed {
			e.Allow = []netip.Prefix{netip.PrefixFrom(server, 32)}
		}
		mu.Lock()
		seen = seen[:0]
		mu.Unlock()
		r := &Resolver{ResolvConf: conf, Hosts: hosts, Egress: e}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		res, errno := r.GetAddrInfo(ctx, node, "80", AddrInfoHints{SockType: SockStream}, 8)
		mu.Lock()
		queries := append([]string(nil), seen...)
		mu.Unlock()
		for _, q := range queries {
			if !e.queryPermitted(server, q) {
				t.Fatalf("policy allow %q deny %q (nameserver allowed: %v): resolving %q sent a query for %q", allow, deny, serverAllowed, node, q)
			}
		}
		if _, denied := e.judgeName(node); denied {
			if len(queries) > 0 || errno == 0 {
				t.Fatalf("denied name %q: errno %v, queries %q", node, errno, queries)
			}
		}
		ports := []uint16{80} // the service asked for
		for _, n := range e.AllowNames {
			if n.Matches(node) {
				ports = append(ports, n.Port) // a name's grant is for its entry's port
			}
		}
		permitted := func(ip netip.Addr) bool {
			for _, p := range ports {
				if e.Permits(ip, p) {
					return true
				}
			}
			return false
		}
		for _, ai := range res {
			// No node is this host's own addresses, for binding (AI_PASSIVE)
			// or loopback: not a destination the policy judges.
			if node != "" && !permitted(ai.Addr.IP) {
				t.Fatalf("resolving %q returned %s, which the policy then refuses", node, ai.Addr.IP)
			}
		}
	})
}
