package integration

import (
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmrun/wasmrun/internal/guests"
	"github.com/wasmrun/wasmrun/internal/testdns"
)

// DNS: a Go guest resolves a name that only a tiny DNS server run by the
// test knows, in both of stealthrocket/net's modes:
//   - default: Go's resolver inside the guest, over UDP, reading the
//     guest's /etc/resolv.conf (a preopened directory);
//   - -tags getaddrinfo: sock_getaddrinfo, which wasmrun answers with Go's
//     resolver on the host pointed at the same server by --resolv-conf.
//
// The server is internal/testdns, on port 53 of an address of its own.

const (
	// noDNSServer is a nameserver address no test server uses: lookups
	// sent there fail at once and never leave the machine.
	noDNSServer = "127.0.83.1"
	dnsName     = "svc.wasmrun.test."
)

func TestSockGoDNS(t *testing.T) {
	dns := testdns.Start(t, map[string][]net.IP{dnsName: {net.IPv4(127, 0, 0, 1)}})
	l := tcpServer(t, func(c net.Conn) { c.Write([]byte("resolved\n")) })
	port := strings.TrimPrefix(l.Addr().String(), "127.0.0.1:")

	etc := t.TempDir()
	writeFile(t, filepath.Join(etc, "resolv.conf"), "nameserver "+dns.IP+"\noptions timeout:5 attempts:2\n")
	writeFile(t, filepath.Join(etc, "hosts"), "127.0.0.1 localhost\n")
	target := strings.TrimSuffix(dnsName, ".") + ":" + port

	for _, tc := range []struct {
		name string
		tags []string
		args []string
	}{
		{"in-guest-resolver", nil, []string{"--dir", etc + ":/etc"}},
		{"getaddrinfo", []string{"getaddrinfo"}, []string{"--resolv-conf", filepath.Join(etc, "resolv.conf"), "--hosts", filepath.Join(etc, "hosts")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := dns.Queries.Load()
			args := append([]string{"run"}, tc.args...)
			args = append(args, guests.Go(t, "sockhttp", tc.tags...), "--", "dial", target)
			r := run(t, nil, args...)
			mustExit(t, r, 0)
			if got := field(t, r.stdout, "connected"); got != l.Addr().String() {
				t.Errorf("connected to %q, want %s", got, l.Addr())
			}
			if got := field(t, r.stdout, "read"); got != "resolved" {
				t.Errorf("read %q", got)
			}
			if dns.Queries.Load() == before {
				t.Errorf("the test DNS server was not asked")
			}

			// An unknown name fails cleanly.
			args[len(args)-1] = "nosuch.wasmrun.test:" + port
			r = run(t, nil, args...)
			if r.code != 1 || !strings.Contains(r.stdout, "error") {
				t.Errorf("unknown name: exit %d, stdout %q", r.code, r.stdout)
			}
		})
	}
}
