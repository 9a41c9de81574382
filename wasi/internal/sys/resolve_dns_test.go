package sys

import (
	"context"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/testdns"
)

// aaaaConn is a test DNS server's socket that answers AAAA queries itself,
// as some real servers and proxies do: not at all (drop), or with SERVFAIL
// after a delay, so that it comes after the A query's answer. Other
// queries go to the server (NXDOMAIN for a name it does not know).
type aaaaConn struct {
	net.PacketConn
	// aaaa is "" (the server answers AAAA too), "drop" or "servfail".
	aaaa  string
	delay time.Duration
	// servfail answers every query with SERVFAIL.
	servfail bool
}

func (c *aaaaConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, from, err := c.PacketConn.ReadFrom(b)
		if err != nil || n < 12 {
			return n, from, err
		}
		q := append([]byte(nil), b[:n]...)
		if !c.servfail && (c.aaaa == "" || !isAAAA(q)) {
			return n, from, nil
		}
		if c.aaaa == "drop" {
			continue
		}
		go func() {
			time.Sleep(c.delay)
			resp := append([]byte(nil), q...)
			binary.BigEndian.PutUint16(resp[2:], 0x8000|0x0080|binary.BigEndian.Uint16(q[2:])&0x0100|2) // SERVFAIL
			binary.BigEndian.PutUint16(resp[6:], 0)
			c.PacketConn.WriteTo(resp, from)
		}()
	}
}

// isAAAA reports whether a one-question query asks for AAAA.
func isAAAA(q []byte) bool {
	i := 12
	for i < len(q) && q[i] != 0 {
		i += int(q[i]) + 1
	}
	return i+3 <= len(q) && binary.BigEndian.Uint16(q[i+1:]) == 28
}

// dnsOn starts a test DNS server on a loopback port (no root needed) that
// knows exists.test. (127.0.0.7) and whose AAAA answers c shapes, and
// returns a Resolver whose queries go to it.
func dnsOn(t *testing.T, c *aaaaConn) *Resolver {
	t.Helper()
	pc, err := listenUDP4(t)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	c.PacketConn = pc
	s := &testdns.Server{IP: "127.0.0.1", PC: c, Records: map[string][]net.IP{"exists.test.": {net.IPv4(127, 0, 0, 7)}}}
	go s.Serve()
	return resolverTo(t, pc.LocalAddr().String())
}

// resolverTo is a Resolver whose every query goes to the server at addr.
func resolverTo(t *testing.T, addr string) *Resolver {
	dir := t.TempDir()
	conf, hosts := filepath.Join(dir, "resolv.conf"), filepath.Join(dir, "hosts")
	os.WriteFile(conf, []byte("nameserver 127.0.0.1\n"), 0o644)
	os.WriteFile(hosts, []byte("127.0.0.1 localhost\n"), 0o644)
	return &Resolver{ResolvConf: conf, Hosts: hosts, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

// TestGetAddrInfoMissingName: a name the nameserver says does not exist
// (NXDOMAIN) is EAI_NONAME, what glibc's "Name or service not known" and
// Node's ENOTFOUND are, also when the other query of the lookup (AAAA)
// failed or was never answered: before, the error of whichever query
// came last won, and a missing name behind a server that fails AAAA was
// EAI_AGAIN ("temporary failure"). Only a failing or silent server is a
// temporary failure; a name without the family asked is still EAI_NODATA.
func TestGetAddrInfoMissingName(t *testing.T) {
	unspec := AddrInfoHints{SockType: SockStream}
	v4 := AddrInfoHints{Family: AFInet4, SockType: SockStream}
	v6 := AddrInfoHints{Family: AFInet6, SockType: SockStream}
	closed, err := listenUDP4(t)
	if err != nil {
		t.Fatal(err)
	}
	noServer := closed.LocalAddr().String()
	closed.Close()
	for _, tc := range []struct {
		name  string
		r     func(t *testing.T) *Resolver
		node  string
		hints AddrInfoHints
		want  Errno
	}{
		{"nxdomain", func(t *testing.T) *Resolver { return dnsOn(t, &aaaaConn{}) }, "nosuch.test", unspec, EAI_NONAME},
		{"nxdomain, AAAA SERVFAIL after", func(t *testing.T) *Resolver {
			return dnsOn(t, &aaaaConn{aaaa: "servfail", delay: 150 * time.Millisecond})
		}, "nosuch.test", unspec, EAI_NONAME},
		{"nxdomain, AAAA unanswered", func(t *testing.T) *Resolver { return dnsOn(t, &aaaaConn{aaaa: "drop"}) }, "nosuch.test", unspec, EAI_NONAME},
		{"nxdomain, IPv4 asked, AAAA SERVFAIL after", func(t *testing.T) *Resolver {
			return dnsOn(t, &aaaaConn{aaaa: "servfail", delay: 150 * time.Millisecond})
		}, "nosuch.test", v4, EAI_NONAME},
		{"exists, AAAA SERVFAIL", func(t *testing.T) *Resolver { return dnsOn(t, &aaaaConn{aaaa: "servfail"}) }, "exists.test", unspec, ESUCCESS},
		{"exists, IPv6 asked", func(t *testing.T) *Resolver { return dnsOn(t, &aaaaConn{}) }, "exists.test", v6, EAI_NODATA},
		{"server fails", func(t *testing.T) *Resolver { return dnsOn(t, &aaaaConn{servfail: true}) }, "nosuch.test", unspec, EAI_AGAIN},
		{"no server", func(t *testing.T) *Resolver { return resolverTo(t, noServer) }, "nosuch.test", unspec, EAI_AGAIN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := tc.r(t)
			// Bounds the unanswered query (Go's resolver waits 5 s an
			// attempt by the machine's resolv.conf).
			ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
			defer cancel()
			res, errno := r.GetAddrInfo(ctx, tc.node, "80", tc.hints, 8)
			if errno != tc.want {
				t.Fatalf("GetAddrInfo(%s) = %v, %v; want %v", tc.node, res, errno.Name(), tc.want.Name())
			}
			if errno == ESUCCESS && (len(res) != 1 || res[0].Addr.IP.String() != "127.0.0.7") {
				t.Errorf("GetAddrInfo(%s) = %+v", tc.node, res)
			}
		})
	}
}
