package sys

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmrun/wasmrun/internal/testdns"
)

// TestEgressResolver: under a policy, sock_getaddrinfo queries only the
// nameservers the policy permits. With none permitted, no query leaves
// and an existing and a missing name get the same EAI_FAIL, while the
// hosts file and numeric hosts still work. A permitted nameserver is
// queried as before, also when ResolvConf is "" (then /etc/resolv.conf's
// servers are the ones checked).
func TestEgressResolver(t *testing.T) {
	dns := testdns.Start(t, map[string][]net.IP{"exists.test.": {net.IPv4(10, 9, 9, 9)}})
	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	hosts := filepath.Join(dir, "hosts")
	os.WriteFile(conf, []byte("nameserver "+dns.IP+"\n"), 0o644)
	os.WriteFile(hosts, []byte("10.1.2.3 inhosts.test\n"), 0o644)
	// The "" cases read these instead of the machine's files.
	defer func(c, h string) { systemResolvConf, systemHosts = c, h }(systemResolvConf, systemHosts)
	systemResolvConf, systemHosts = conf, hosts

	p := func(ss ...string) (out []netip.Prefix) {
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	denyAll := &Egress{Allow: p("10.1.2.3/32"), Deny: p("0.0.0.0/0", "::/0")}
	allowServer := &Egress{Allow: p(dns.IP + "/32"), Deny: p("0.0.0.0/0", "::/0")}
	// Nameservers spelled as the unspecified address are loopback.
	anyConf := filepath.Join(dir, "any.conf")
	os.WriteFile(anyConf, []byte("nameserver 0.0.0.0\nnameserver ::\nnameserver ::ffff:0.0.0.0\n"), 0o644)
	denyLoopback := &Egress{Deny: p("127.0.0.0/8", "::1/128")}

	ctx := context.Background()
	for _, tc := range []struct {
		name              string
		r                 *Resolver
		exists, missing   Errno
		wantQueries       bool
		hostsAndNumerical bool
	}{
		{"deny all", &Resolver{ResolvConf: conf, Hosts: hosts, Egress: denyAll}, EAI_FAIL, EAI_FAIL, false, true},
		{"deny all, system files", &Resolver{Egress: denyAll}, EAI_FAIL, EAI_FAIL, false, true},
		{"unspecified nameservers", &Resolver{ResolvConf: anyConf, Egress: denyLoopback}, EAI_FAIL, EAI_FAIL, false, false},
		{"permitted nameserver", &Resolver{ResolvConf: conf, Egress: allowServer}, EAI_FAIL, EAI_NONAME, true, false},
		{"permitted nameserver, system files", &Resolver{Egress: allowServer}, EAI_FAIL, EAI_NONAME, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := dns.Queries.Load()
			for _, c := range []struct {
				node  string
				flags uint16
				want  Errno
			}{
				{"exists.test", 0, tc.exists},
				{"missing.test", 0, tc.missing},
				{"exists.test", AICanonname, tc.exists},
				{"missing.test", AICanonname, tc.missing},
			} {
				ais, errno := tc.r.GetAddrInfo(ctx, c.node, "80", AddrInfoHints{Flags: c.flags, SockType: SockStream}, 8)
				if errno != c.want {
					t.Errorf("getaddrinfo %s (flags %d) = %+v, %s, want %s", c.node, c.flags, ais, errno.Name(), c.want.Name())
				}
			}
			if got := dns.Queries.Load() - before; (got > 0) != tc.wantQueries {
				t.Errorf("the nameserver got %d queries, want them: %v", got, tc.wantQueries)
			}
			if !tc.hostsAndNumerical {
				return
			}
			for _, node := range []string{"inhosts.test", "10.1.2.3"} {
				ais, errno := tc.r.GetAddrInfo(ctx, node, "80", AddrInfoHints{Family: AFInet4, SockType: SockStream}, 8)
				if errno != 0 || len(ais) != 1 || ais[0].Addr.IP != netip.MustParseAddr("10.1.2.3") {
					t.Errorf("getaddrinfo %s = %+v, %s, want 10.1.2.3", node, ais, errno.Name())
				}
			}
		})
	}

}
