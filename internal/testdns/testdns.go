// Package testdns is a tiny DNS server for tests: it answers A and AAAA
// queries for the names it is given (NXDOMAIN for any other name) and
// counts the queries it gets. resolv.conf cannot name a port, so Start
// listens on port 53 of an address of its own in 127.0.0.0/8, picked at
// random so that two test runs (or two tests) never share one; binding
// port 53 needs root.
package testdns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// Server answers queries on PC for the names in Records (fully qualified,
// with the trailing dot; A for IPv4 addresses, AAAA for IPv6 ones).
type Server struct {
	// IP is the server's address, for a resolv.conf nameserver line.
	IP      string
	PC      net.PacketConn
	Records map[string][]net.IP
	// Queries counts the well-formed queries answered.
	Queries atomic.Int32
	// OnQuery, when set before Serve, is called with each such query's
	// name (lower case, with the trailing dot).
	OnQuery func(name string)
}

// Start listens on port 53 of a random 127.83.x.y and serves records until
// t ends. It skips t without root.
func Start(t testing.TB, records map[string][]net.IP) *Server {
	t.Helper()
	return StartFunc(t, records, nil)
}

// StartFunc is Start with onQuery as the server's OnQuery.
func StartFunc(t testing.TB, records map[string][]net.IP, onQuery func(name string)) *Server {
	t.Helper()
	ip, pc := Listen(t)
	s := &Server{IP: ip, PC: pc, Records: records, OnQuery: onQuery}
	go s.Serve()
	return s
}

// Listen binds UDP port 53 of a random 127.83.x.y, closed when t ends, for
// a server whose socket a test wraps. It skips t without root.
func Listen(t testing.TB) (ip string, pc net.PacketConn) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("binding port 53 for the test DNS server needs root")
	}
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
	t.Cleanup(func() { pc.Close() })
	return ip, pc
}

// Serve answers queries on s.PC until it is closed.
func (s *Server) Serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.PC.ReadFrom(buf)
		if err != nil {
			return
		}
		if resp := s.answer(buf[:n]); resp != nil {
			s.Queries.Add(1)
			s.PC.WriteTo(resp, from)
		}
	}
}

// answer builds the response to one query, or nil for garbage.
func (s *Server) answer(q []byte) []byte {
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
	if s.OnQuery != nil {
		s.OnQuery(name)
	}

	ips, known := s.Records[name]
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
