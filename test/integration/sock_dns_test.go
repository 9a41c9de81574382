package integration

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// DNS: a Go guest resolves a name that only a tiny DNS server run by the
// test knows, in both of stealthrocket/net's modes:
//   - default: Go's resolver inside the guest, over UDP, reading the
//     guest's /etc/resolv.conf (a preopened directory);
//   - -tags getaddrinfo: sock_getaddrinfo, which wasmrun answers with Go's
//     resolver on the host pointed at the same server by --resolv-conf.
//
// resolv.conf cannot name a port, so the server listens on port 53 of an
// address of its own in 127.0.0.0/8, picked at random so that two test runs
// (or two tests) never share one; binding port 53 needs root.

const (
	// noDNSServer is a nameserver address no test server uses: lookups
	// sent there fail at once and never leave the machine.
	noDNSServer = "127.0.83.1"
	dnsName     = "svc.wasmrun.test."
)

// dnsServer answers A and AAAA queries for the names in records (A for
// IPv4 addresses, AAAA for IPv6) and NXDOMAIN for anything else. It counts
// the queries it answered.
type dnsServer struct {
	// ip is the server's address, for a resolv.conf nameserver line.
	ip      string
	pc      net.PacketConn
	records map[string][]net.IP
	queries atomic.Int32
}

func startDNSServer(t testing.TB, records map[string][]net.IP) *dnsServer {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("binding port 53 for the test DNS server needs root")
	}
	var ip string
	var pc net.PacketConn
	var err error
	for range 20 {
		ip = fmt.Sprintf("127.83.%d.%d", 1+rand.IntN(254), 1+rand.IntN(254))
		if pc, err = net.ListenPacket("udp4", ip+":53"); !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	if err != nil {
		t.Fatalf("start DNS server: %v", err)
	}
	s := &dnsServer{ip: ip, pc: pc, records: records}
	t.Cleanup(func() { pc.Close() })
	go s.serve()
	return s
}

func (s *dnsServer) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if resp := s.answer(buf[:n]); resp != nil {
			s.queries.Add(1)
			s.pc.WriteTo(resp, from)
		}
	}
}

// answer builds the response to one query, or nil for garbage.
func (s *dnsServer) answer(q []byte) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:]) != 1 {
		return nil
	}
	// The question: labels, then type and class.
	i := 12
	var labels []string
	for {
		if i >= len(q) {
			return nil
		}
		l := int(q[i])
		i++
		if l == 0 {
			break
		}
		if l > 63 || i+l > len(q) {
			return nil
		}
		labels = append(labels, strings.ToLower(string(q[i:i+l])))
		i += l
	}
	if i+4 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i:])
	qend := i + 4
	name := strings.Join(labels, ".") + "."

	ips, known := s.records[name]
	var answers [][]byte
	for _, ip := range ips {
		if v4 := ip.To4(); v4 != nil && qtype == 1 {
			answers = append(answers, v4)
		} else if v4 == nil && qtype == 28 {
			answers = append(answers, ip.To16())
		}
	}
	flags := uint16(0x8000 | 0x0080) // response, recursion available
	flags |= binary.BigEndian.Uint16(q[2:]) & 0x0100
	if !known {
		flags |= 3 // NXDOMAIN
	}
	resp := binary.BigEndian.AppendUint16(nil, binary.BigEndian.Uint16(q))
	resp = binary.BigEndian.AppendUint16(resp, flags)
	resp = binary.BigEndian.AppendUint16(resp, 1)
	resp = binary.BigEndian.AppendUint16(resp, uint16(len(answers)))
	resp = append(resp, 0, 0, 0, 0)
	resp = append(resp, q[12:qend]...)
	for _, a := range answers {
		resp = append(resp, 0xc0, 12) // the name in the question
		resp = binary.BigEndian.AppendUint16(resp, qtype)
		resp = binary.BigEndian.AppendUint16(resp, 1)
		resp = binary.BigEndian.AppendUint32(resp, 60)
		resp = binary.BigEndian.AppendUint16(resp, uint16(len(a)))
		resp = append(resp, a...)
	}
	return resp
}

func TestSockGoDNS(t *testing.T) {
	dns := startDNSServer(t, map[string][]net.IP{dnsName: {net.IPv4(127, 0, 0, 1)}})
	l := tcpServer(t, func(c net.Conn) { c.Write([]byte("resolved\n")) })
	port := strings.TrimPrefix(l.Addr().String(), "127.0.0.1:")

	etc := t.TempDir()
	writeFile(t, filepath.Join(etc, "resolv.conf"), "nameserver "+dns.ip+"\noptions timeout:5 attempts:2\n")
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
			before := dns.queries.Load()
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
			if dns.queries.Load() == before {
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
