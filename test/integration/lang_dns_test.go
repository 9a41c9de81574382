package integration

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/testdns"
)

// A missing name is reported the same way by Python and Node: EAI_NONAME
// (glibc's "Name or service not known"; Node calls it ENOTFOUND), also
// behind a nameserver that fails the AAAA query after it said the name
// does not exist, as some servers and proxies do; before, sock_getaddrinfo
// answered that with EAI_AGAIN, which Python reports as "Temporary failure
// in name resolution". Only a server that fails is a temporary failure.

// langDNSFlags are --resolv-conf and --hosts for a DNS server shaped as
// aaaa says (see startShapedDNS) that knows svc.wasmrun.test.
func langDNSFlags(t *testing.T, aaaa string) []string {
	dns := startShapedDNS(t, map[string][]net.IP{dnsName: {net.IPv4(127, 0, 0, 7)}}, aaaa)
	return resolverFiles(t, "127.0.0.1 localhost\n", dns.IP)
}

func TestPythonMissingName(t *testing.T) {
	t.Parallel()
	app := appDir(t, map[string]string{"main.py": pythonResolveOS})
	name := strings.TrimSuffix(dnsName, ".")
	r := runPython(t, app, langDNSFlags(t, "servfail"), name, "nosuch.wasmrun.test")
	mustExit(t, r, 0)
	wantFields(t, r.stdout, map[string]string{
		name:                  "127.0.0.7",
		"nosuch.wasmrun.test": "EAI_NONAME Name or service not known",
	})
	r = runPython(t, app, langDNSFlags(t, "fail-all"), "nosuch.wasmrun.test")
	mustExit(t, r, 0)
	if got := field(t, r.stdout, "nosuch.wasmrun.test"); got != "EAI_AGAIN Temporary failure in name resolution" {
		t.Errorf("a failing server: %q, want EAI_AGAIN", got)
	}
}

func TestNodeMissingName(t *testing.T) {
	app := appDir(t, map[string]string{"main.js": `
const dns = require('dns');
for (const name of process.argv.slice(2)) {
  dns.lookup(name, (err, address) => console.log(name, err ? err.code : address));
}
`})
	name := strings.TrimSuffix(dnsName, ".")
	r := run(t, nil, nodeArgs(t, app, langDNSFlags(t, "servfail"), filepath.Join("/app", "main.js"), name, "nosuch.wasmrun.test")...)
	mustExit(t, r, 0)
	wantFields(t, r.stdout, map[string]string{
		name:                  "127.0.0.7",
		"nosuch.wasmrun.test": "ENOTFOUND",
	})
	// A nameserver that fails is not a missing name: EAI_AGAIN, as node.
	r = run(t, nil, nodeArgs(t, app, langDNSFlags(t, "fail-all"), filepath.Join("/app", "main.js"), "nosuch.wasmrun.test")...)
	mustExit(t, r, 0)
	if got := field(t, r.stdout, "nosuch.wasmrun.test"); got != "EAI_AGAIN" {
		t.Errorf("a failing server: %q, want EAI_AGAIN", got)
	}
}

// pythonResolveOS prints getaddrinfo's answer for each name argument: the
// addresses, or the gaierror's errno name and message.
const pythonResolveOS = `
import socket, sys
names = {v: k for k, v in vars(socket).items() if k.startswith("EAI_")}
for name in sys.argv[1:]:
    try:
        res = socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)
        print(name, " ".join(sorted({a[4][0] for a in res})))
    except socket.gaierror as e:
        print(name, names.get(e.errno, e.errno), e.strerror)
`

// startShapedDNS starts a test DNS server on port 53 of a random
// 127.83.x.y (as testdns.Start) that answers A queries from records and
// AAAA queries as aaaa says: "" from records too, "servfail" with
// SERVFAIL 150 ms later (after the A answer), "fail-all" every query with
// SERVFAIL.
func startShapedDNS(t testing.TB, records map[string][]net.IP, aaaa string) *testdns.Server {
	t.Helper()
	ip, pc := testdns.Listen(t)
	s := &testdns.Server{IP: ip, PC: &shapedConn{PacketConn: pc, aaaa: aaaa}, Records: records}
	go s.Serve()
	return s
}

// shapedConn answers the queries startShapedDNS's aaaa says with SERVFAIL
// itself and passes the others to the server.
type shapedConn struct {
	net.PacketConn
	aaaa string
}

func (c *shapedConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, from, err := c.PacketConn.ReadFrom(b)
		if err != nil || n < 12 {
			return n, from, err
		}
		q := append([]byte(nil), b[:n]...)
		if c.aaaa == "" || c.aaaa == "servfail" && !queryIsAAAA(q) {
			return n, from, nil
		}
		delay := 150 * time.Millisecond
		if c.aaaa == "fail-all" {
			delay = 0
		}
		go func() {
			time.Sleep(delay)
			q[2], q[3] = 0x80|q[2]&0x01, 0x80|2 // response, RD as asked, RA, SERVFAIL
			c.PacketConn.WriteTo(q, from)
		}()
	}
}

// queryIsAAAA reports whether a one-question DNS query asks for AAAA.
func queryIsAAAA(q []byte) bool {
	i := 12
	for i < len(q) && q[i] != 0 {
		i += int(q[i]) + 1
	}
	return i+3 <= len(q) && int(q[i+1])<<8|int(q[i+2]) == 28
}
