package sys

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// testDNS is a tiny DNS server on port 53 of a random 127.84.0.0/16
// address: exists.test has one A record, 10.9.9.9; every other name is
// NXDOMAIN. It counts the queries it gets.
type testDNS struct {
	ip      netip.Addr
	queries atomic.Int32
}

func startTestDNS(t *testing.T) *testDNS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("binding port 53 for the test DNS server needs root")
	}
	var pc net.PacketConn
	var err error
	var ip netip.Addr
	for range 20 {
		ip = netip.AddrFrom4([4]byte{127, 84, byte(1 + rand.IntN(254)), byte(1 + rand.IntN(254))})
		if pc, err = net.ListenPacket("udp4", netip.AddrPortFrom(ip, 53).String()); !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	if err != nil {
		t.Fatalf("start DNS server: %v", err)
	}
	t.Cleanup(func() { pc.Close() })
	d := &testDNS{ip: ip}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			d.queries.Add(1)
			if resp := testDNSAnswer(buf[:n]); resp != nil {
				pc.WriteTo(resp, from)
			}
		}
	}()
	return d
}

func testDNSAnswer(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	i := 12
	var labels []string
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil
		}
		labels = append(labels, strings.ToLower(string(q[i+1:i+1+l])))
		i += 1 + l
	}
	if i+5 > len(q) {
		return nil
	}
	qtype, qend := binary.BigEndian.Uint16(q[i+1:]), i+5
	known := strings.Join(labels, ".") == "exists.test"
	flags := uint16(0x8180) // response, recursion desired and available
	var answers uint16
	if !known {
		flags |= 3 // NXDOMAIN
	} else if qtype == 1 {
		answers = 1
	}
	resp := append([]byte{q[0], q[1]}, byte(flags>>8), byte(flags), 0, 1, 0, byte(answers), 0, 0, 0, 0)
	resp = append(resp, q[12:qend]...)
	if answers == 1 {
		resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 9, 9, 9)
	}
	return resp
}

// TestEgressResolver: under a policy, sock_getaddrinfo queries only the
// nameservers the policy permits. With none permitted, no query leaves
// and an existing and a missing name get the same EAI_FAIL, while the
// hosts file and numeric hosts still work. A permitted nameserver is
// queried as before, also when ResolvConf is "" (the Dial hook reads
// /etc/resolv.conf's servers then).
func TestEgressResolver(t *testing.T) {
	dns := startTestDNS(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	hosts := filepath.Join(dir, "hosts")
	os.WriteFile(conf, []byte("nameserver "+dns.ip.String()+"\n"), 0o644)
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
	allowServer := &Egress{Allow: p(dns.ip.String() + "/32"), Deny: p("0.0.0.0/0", "::/0")}
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
			before := dns.queries.Load()
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
			if got := dns.queries.Load() - before; (got > 0) != tc.wantQueries {
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

	// The Dial hook refuses a denied server even if one reaches it.
	r := &Resolver{ResolvConf: conf, Egress: denyAll}
	before := dns.queries.Load()
	if _, err := r.goResolver([]string{netip.AddrPortFrom(dns.ip, 53).String()}).LookupNetIP(ctx, "ip4", "exists.test"); err == nil {
		t.Error("the Dial hook let a query to a denied nameserver through")
	}
	if got := dns.queries.Load() - before; got != 0 {
		t.Errorf("a denied nameserver got %d queries through the Dial hook", got)
	}
}
