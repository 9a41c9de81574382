package sys

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
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

// TestEgressResolverNames: name entries at resolution, against a real DNS
// server. Under an allow list of names only, the nameserver (which no
// prefix permits) is asked for allowed names and never for others, also
// when Go's resolver is called directly (the query is checked as it is
// written); the addresses an allowed name resolved to become connectable,
// at the entry's port only. A denied name is EAI_FAIL before any lookup,
// even when the hosts file has it. A name cannot be pointed into a range a
// narrower deny prefix covers.
func TestEgressResolverNames(t *testing.T) {
	dns := testdns.Start(t, map[string][]net.IP{
		"api.test.":       {net.IPv4(127, 0, 0, 2)},
		"other.test.":     {net.IPv4(127, 0, 0, 3)},
		"a.svc.test.":     {net.IPv4(127, 0, 0, 4)},
		"rebind.test.":    {net.IPv4(10, 0, 0, 5)},
		"x.blocked.test.": {net.IPv4(127, 0, 0, 6)},
	})
	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	hosts := filepath.Join(dir, "hosts")
	os.WriteFile(conf, []byte("nameserver "+dns.IP+"\noptions timeout:2 attempts:1\n"), 0o644)
	os.WriteFile(hosts, []byte("127.0.0.7 inhosts.blocked.test\n"), 0o644)

	l, err := net.Listen("tcp4", "127.0.0.2:0")
	if err != nil {
		t.Skipf("listen on 127.0.0.2: %v", err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	ctx := context.Background()
	stream := AddrInfoHints{Family: AFInet4, SockType: SockStream}

	// queries runs f and returns how many queries the server got meanwhile.
	queries := func(f func()) int32 {
		before := dns.Queries.Load()
		f()
		return dns.Queries.Load() - before
	}
	resolve := func(r *Resolver, node string) ([]AddrInfo, Errno) {
		return r.GetAddrInfo(ctx, node, "", stream, 8)
	}

	t.Run("allow names", func(t *testing.T) {
		e := &Egress{AllowNames: names(t, "api.test:"+strconv.Itoa(int(port)), "*.svc.test")}
		r := &Resolver{ResolvConf: conf, Egress: e}
		s := &System{Egress: e}
		defer s.Close()
		connect := func(ip string, port uint16) Errno {
			fd, errno := s.SockOpen(AFInet4, SockStream)
			if errno != 0 {
				t.Fatal(errno.Name())
			}
			defer s.CloseFD(fd)
			return s.SockConnect(fd, Addr{Family: AFInet4, IP: netip.MustParseAddr(ip), Port: port})
		}
		if errno := connect("127.0.0.2", port); errno != EPERM {
			t.Errorf("connect before resolving = %s, want EPERM", errno.Name())
		}
		if n := queries(func() {
			if ais, errno := resolve(r, "other.test"); errno != EAI_FAIL {
				t.Errorf("getaddrinfo other.test = %+v, %s, want EAI_FAIL", ais, errno.Name())
			}
			if _, err := r.goResolver(r.nameservers(true)).LookupNetIP(ctx, "ip", "other.test."); err == nil {
				t.Error("Go's resolver got an answer for other.test through an allowed name's nameserver")
			}
		}); n != 0 {
			t.Errorf("the nameserver got %d queries for a name no entry allows", n)
		}
		if n := queries(func() {
			ais, errno := resolve(r, "API.Test.")
			if errno != 0 || len(ais) != 1 || ais[0].Addr.IP != netip.MustParseAddr("127.0.0.2") {
				t.Errorf("getaddrinfo API.Test. = %+v, %s, want 127.0.0.2", ais, errno.Name())
			}
			if _, errno := resolve(r, "a.svc.test"); errno != 0 {
				t.Errorf("getaddrinfo a.svc.test = %s", errno.Name())
			}
		}); n == 0 {
			t.Error("the nameserver was not asked for allowed names")
		}
		if errno := connect("127.0.0.2", port); errno != 0 {
			t.Errorf("connect to api.test's address = %s", errno.Name())
		}
		if errno := connect("127.0.0.2", port+1); errno != EPERM {
			t.Errorf("connect to api.test's address at another port = %s, want EPERM", errno.Name())
		}
		if errno := connect("127.0.0.3", port); errno != EPERM {
			t.Errorf("connect to other.test's address = %s, want EPERM", errno.Name())
		}
		if !e.Permits(netip.MustParseAddr("127.0.0.4"), 9) {
			t.Error("a.svc.test's address (entry without a port) is not permitted at every port")
		}
	})

	t.Run("deny names", func(t *testing.T) {
		e := &Egress{DenyNames: names(t, "*.blocked.test")}
		r := &Resolver{ResolvConf: conf, Hosts: hosts, Egress: e}
		if n := queries(func() {
			for _, node := range []string{"x.blocked.test", "X.BLOCKED.TEST.", "inhosts.blocked.test"} {
				if ais, errno := resolve(r, node); errno != EAI_FAIL {
					t.Errorf("getaddrinfo %s = %+v, %s, want EAI_FAIL", node, ais, errno.Name())
				}
			}
			if _, err := r.goResolver(r.nameservers(false)).LookupNetIP(ctx, "ip", "x.blocked.test."); err == nil {
				t.Error("Go's resolver got an answer for a denied name")
			}
		}); n != 0 {
			t.Errorf("the nameserver got %d queries for denied names", n)
		}
		if ais, errno := resolve(r, "other.test"); errno != 0 || len(ais) != 1 {
			t.Errorf("getaddrinfo other.test = %+v, %s", ais, errno.Name())
		}
		if !e.Permits(netip.MustParseAddr("127.0.0.6"), 80) {
			t.Error("a deny name blocked an address")
		}
	})

	t.Run("rebinding", func(t *testing.T) {
		e := &Egress{Deny: prefixes("0.0.0.0/0", "::/0", "10.0.0.0/8"), AllowNames: names(t, "rebind.test", "api.test")}
		r := &Resolver{ResolvConf: conf, Egress: e}
		if ais, errno := resolve(r, "rebind.test"); errno != EAI_FAIL {
			t.Errorf("getaddrinfo rebind.test = %+v, %s, want EAI_FAIL", ais, errno.Name())
		}
		if e.Permits(netip.MustParseAddr("10.0.0.5"), 80) {
			t.Error("rebind.test's address in a denied range was granted")
		}
		if _, errno := resolve(r, "api.test"); errno != 0 || !e.Permits(netip.MustParseAddr("127.0.0.2"), 80) {
			t.Errorf("getaddrinfo api.test under a catch-all deny = %s, or its address not granted", errno.Name())
		}
	})
}

// TestQueryName reads the question of a DNS query, and refuses anything
// else.
func TestQueryName(t *testing.T) {
	q := []byte{0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'A', 'p', 'I', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1}
	if name, ok := queryName(q); !ok || name != "api.test" {
		t.Errorf("queryName = %q, %v", name, ok)
	}
	two := append([]byte{}, q...)
	two[5] = 2
	for _, bad := range [][]byte{nil, q[:11], q[:15], two} {
		if name, ok := queryName(bad); ok {
			t.Errorf("queryName(%x) = %q, want refused", bad, name)
		}
	}
}
