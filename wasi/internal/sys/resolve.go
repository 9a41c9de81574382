package sys

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Name resolution for sock_getaddrinfo, through Go's own resolver (never
// cgo/NSS), so it reads the resolv.conf and hosts files of the namespace the
// process runs in, as the guest's namespace should see them.
//
// A Resolver can be pointed at other files (a container's): with ResolvConf
// set, its "nameserver" lines are the servers queried (Go's resolver cannot
// be given another resolv.conf, so its Dial is replaced and ignores the
// address Go chose; the options and search list still come from the
// process's /etc/resolv.conf). With Hosts set, that file is looked up first;
// Go's resolver may still consult the process's /etc/hosts afterwards.
//
// Under an egress policy a query is itself egress, and one the guest
// chooses: the name is data sent to the nameserver, and whether it exists
// shows in the answer. So a query goes only to nameservers the policy
// permits (those of ResolvConf, or of /etc/resolv.conf when it is "": the
// Dial hook picks only among them), and when none is permitted no query
// leaves the process: a name not in the hosts file (Hosts, else
// /etc/hosts) is EAI_FAIL, whether or not it exists.
//
// Name entries widen and narrow that (see Egress). A name an allow entry
// matches may also be sent to nameservers the prefixes alone refuse, and
// when the policy has name entries every query is checked as it is written
// to the nameserver, so search-list expansions are judged too: a query for
// a denied name never leaves, nor one for a name no allow entry matches to
// a nameserver only allowed names may reach.

// getaddrinfo flags of the socket extension.
const (
	AIPassive     = 1 << 0
	AICanonname   = 1 << 1
	AINumerichost = 1 << 2
	AINumericserv = 1 << 3
	AIV4mapped    = 1 << 4
	AIAll         = 1 << 5
	AIAddrconfig  = 1 << 6

	aiKnown = AIPassive | AICanonname | AINumerichost | AINumericserv | AIV4mapped | AIAll | AIAddrconfig
)

// Protocols of the socket extension (its own numbering, not IANA's).
const (
	ProtoIP  = 0
	ProtoTCP = 1
	ProtoUDP = 2
)

// AddrInfoHints are the hints of a getaddrinfo call.
type AddrInfoHints struct {
	Flags    uint16
	Family   Family
	SockType SockType
	Protocol uint32
}

// AddrInfo is one getaddrinfo result.
type AddrInfo struct {
	Family    Family
	SockType  SockType
	Protocol  uint32
	Addr      Addr
	CanonName string
}

// Resolver answers getaddrinfo. The zero Resolver uses the process's own
// /etc/resolv.conf and /etc/hosts.
type Resolver struct {
	// ResolvConf and Hosts, when set, replace /etc/resolv.conf and
	// /etc/hosts (see above for how far).
	ResolvConf, Hosts string
	// Egress, when set, drops addresses the guest may not connect to (a
	// name all of whose addresses are dropped is EAI_FAIL), limits which
	// nameservers are queried and with which names (see above), and is
	// where the addresses of allowed names are granted.
	Egress *Egress
	// Dial, when set, connects to a nameserver (see Outside.Dialer);
	// nil dials from this process.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Events, when set, is told of each lookup (events.go).
	Events func(Event)

	next atomic.Uint32 // round-robin over the ResolvConf nameservers
}

// The process's own files, read when ResolvConf or Hosts is "" (tests point
// them elsewhere).
var (
	systemResolvConf = "/etc/resolv.conf"
	systemHosts      = "/etc/hosts"
)

// errNoNameserver is the Dial hook's answer when the egress policy permits
// no nameserver (lookupNode does not call it then).
var errNoNameserver = errors.New("no nameserver permitted by the egress policy")

// nameservers returns the servers (host:53) queries may go to: the
// nameserver lines of ResolvConf, or of /etc/resolv.conf when it is "",
// less those the egress policy denies. For a name an allow entry matches
// (nameAllowed), a nameserver counts as granted, as the name's addresses
// will be.
func (r *Resolver) nameservers(nameAllowed bool) []string {
	path := r.ResolvConf
	if path == "" {
		path = systemResolvConf
	}
	var out []string
	for _, s := range readNameservers(path) {
		ap, err := netip.ParseAddrPort(s)
		if err == nil && r.Egress.nameserverPermits(ap.Addr(), ap.Port(), nameAllowed) {
			out = append(out, s)
		}
	}
	return out
}

// goResolver returns Go's resolver sending its queries to servers (from
// nameservers). Without ResolvConf or a policy, it is Go's own, which
// queries the process's resolv.conf's servers.
func (r *Resolver) goResolver(servers []string) *net.Resolver {
	gr := &net.Resolver{PreferGo: true}
	if r.ResolvConf == "" && r.Egress == nil && r.Dial == nil {
		return gr
	}
	dial := r.Dial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	gr.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
		if len(servers) == 0 {
			return nil, errNoNameserver
		}
		addr := servers[int(r.next.Add(1)-1)%len(servers)]
		c, err := dial(ctx, network, addr)
		if err != nil || r.Egress == nil || len(r.Egress.AllowNames)+len(r.Egress.DenyNames) == 0 {
			return c, err
		}
		server := netip.MustParseAddrPort(addr).Addr()
		check := func(query []byte) error {
			if name, ok := queryName(query); !ok || !r.Egress.queryPermitted(server, name) {
				return errQueryDenied
			}
			return nil
		}
		// Go's resolver tells UDP from TCP by the PacketConn interface.
		if pc, ok := c.(packetConn); ok {
			return checkedPacket{pc, check}, nil
		}
		return checkedStream{c, check}, nil
	}
	return gr
}

// errQueryDenied is what a checked connection to a nameserver returns
// for a query the egress policy does not let out.
var errQueryDenied = errors.New("DNS query denied by the egress policy")

// packetConn is a datagram conn to a nameserver: a UDP one, or one over a
// relay (relayConn).
type packetConn interface {
	net.Conn
	net.PacketConn
}

// checkedPacket and checkedStream let a DNS query out to a nameserver only
// when check passes it. Go's resolver writes each query whole, in one
// Write (over TCP with its 2-byte length first).
type checkedPacket struct {
	packetConn
	check func(query []byte) error
}

func (c checkedPacket) Write(b []byte) (int, error) {
	if err := c.check(b); err != nil {
		return 0, err
	}
	return c.packetConn.Write(b)
}

func (c checkedPacket) WriteTo(b []byte, addr net.Addr) (int, error) {
	if err := c.check(b); err != nil {
		return 0, err
	}
	return c.packetConn.WriteTo(b, addr)
}

type checkedStream struct {
	net.Conn
	check func(query []byte) error
}

func (c checkedStream) Write(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, errQueryDenied
	}
	if err := c.check(b[2:]); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// queryName returns the name a DNS query asks for, as normalName has it,
// or false unless msg holds exactly one question.
func queryName(msg []byte) (string, bool) {
	if len(msg) < 12 || binary.BigEndian.Uint16(msg[4:]) != 1 {
		return "", false
	}
	var labels []string
	for i := 12; ; {
		if i >= len(msg) {
			return "", false
		}
		l := int(msg[i])
		i++
		if l == 0 {
			break
		}
		if l > 63 || i+l > len(msg) {
			return "", false
		}
		labels = append(labels, string(msg[i:i+l]))
		i += l
	}
	return normalName(strings.Join(labels, ".")), true
}

// readNameservers returns host:53 for each nameserver line of a resolv.conf,
// or the loopback server Go and libc default to.
func readNameservers(path string) []string {
	var servers []string
	f, err := os.Open(path)
	if err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) >= 2 && fields[0] == "nameserver" {
				if ip, err := netip.ParseAddr(fields[1]); err == nil {
					servers = append(servers, netip.AddrPortFrom(ip, 53).String())
				}
			}
		}
	}
	if len(servers) == 0 {
		servers = []string{"127.0.0.1:53", "[::1]:53"}
	}
	return servers
}

// lookupHostsFile returns the addresses of name in a hosts file.
func lookupHostsFile(path, name string) []netip.Addr {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	var ips []netip.Addr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		ip, err := netip.ParseAddr(fields[0])
		if err != nil || ip.Zone() != "" {
			continue
		}
		for _, h := range fields[1:] {
			if strings.ToLower(strings.TrimSuffix(h, ".")) == name {
				ips = append(ips, ip.Unmap())
				break
			}
		}
	}
	return ips
}

// GetAddrInfo resolves node and service like getaddrinfo(3) and returns at
// most max results. Errors are the extension's EAI_* errnos: EAI_BADFLAG,
// EAI_FAMILY, EAI_SOCKTYPE (bad hints), EAI_NONAME (neither node nor service,
// unknown name, a non-numeric node with NUMERICHOST or service with
// NUMERICSERV), EAI_SERVICE (unknown service), EAI_ADDRFAMILY (a numeric
// node of another family than asked), EAI_AGAIN (temporary DNS failure),
// EAI_FAIL (other DNS failure; under an egress policy, a name a deny entry
// matches, a name whose every address is denied, or any name not in the
// hosts file when no nameserver is permitted), EAI_NODATA (a name with no
// address of the family asked).
//
// The addresses returned for a name an allow entry matches are granted to
// the guest (see Egress).
func (r *Resolver) GetAddrInfo(ctx context.Context, node, service string, hints AddrInfoHints, max int) ([]AddrInfo, Errno) {
	if r.Events == nil {
		out, errno, _ := r.getAddrInfo(ctx, node, service, hints, max)
		return out, errno
	}
	out, errno, why := r.getAddrInfo(ctx, node, service, hints, max)
	target := node
	if node == "" || service != "" && errno == EAI_SERVICE {
		target = service
	}
	r.Events(Event{Call: "getaddrinfo", Target: target, Errno: errno, Why: why})
	return out, errno
}

// getAddrInfo is GetAddrInfo; it also returns why the host refused, if it
// did.
func (r *Resolver) getAddrInfo(ctx context.Context, node, service string, hints AddrInfoHints, max int) ([]AddrInfo, Errno, string) {
	if hints.Flags&^aiKnown != 0 {
		return nil, EAI_BADFLAG, ""
	}
	if hints.Family > AFInet6 {
		return nil, EAI_FAMILY, ""
	}
	if hints.SockType > SockStream {
		return nil, EAI_SOCKTYPE, ""
	}
	switch {
	case hints.Protocol > ProtoUDP,
		hints.Protocol == ProtoTCP && hints.SockType == SockDgram,
		hints.Protocol == ProtoUDP && hints.SockType == SockStream:
		return nil, EAI_SOCKTYPE, ""
	}
	if node == "" && service == "" {
		return nil, EAI_NONAME, ""
	}
	socktypes := []SockType{SockStream, SockDgram}
	switch {
	case hints.SockType != SockAny:
		socktypes = []SockType{hints.SockType}
	case hints.Protocol == ProtoTCP:
		socktypes = []SockType{SockStream}
	case hints.Protocol == ProtoUDP:
		socktypes = []SockType{SockDgram}
	}

	port, errno := lookupService(service, hints.Flags, socktypes[0])
	if errno != 0 {
		return nil, errno, ""
	}
	var granting []NameEntry
	if _, err := netip.ParseAddr(node); err != nil && node != "" && r.Egress != nil {
		var denied bool
		if granting, denied = r.Egress.judgeName(node); denied {
			// Refused, not looked up: not even in the hosts file.
			return nil, EAI_FAIL, "the name is " + whyEgress
		}
	}
	ips, canon, errno := r.lookupNode(ctx, node, hints, len(granting) > 0)
	if errno != 0 {
		return nil, errno, ""
	}
	if node != "" && r.Egress != nil {
		allowed := ips[:0:0]
		for _, ip := range ips {
			if r.Egress.Permits(ip, port) || len(granting) > 0 && r.Egress.permits(ip, port, true) {
				allowed = append(allowed, ip)
			}
		}
		if len(allowed) == 0 && len(ips) > 0 {
			return nil, EAI_FAIL, "every address is " + whyEgress
		}
		ips = allowed
	}

	var out []AddrInfo
	for _, ip := range ips {
		fam := AFInet4
		if ip.Is6() {
			fam = AFInet6
		}
		for _, st := range socktypes {
			if len(out) >= max {
				return out, ESUCCESS, ""
			}
			if st == socktypes[0] {
				// Only what the guest gets is granted.
				for _, n := range granting {
					r.Egress.grants.add(ip, n.Port)
				}
			}
			proto := uint32(ProtoTCP)
			if st == SockDgram {
				proto = ProtoUDP
			}
			ai := AddrInfo{Family: fam, SockType: st, Protocol: proto, Addr: Addr{Family: fam, IP: ip, Port: port}}
			if len(out) == 0 && hints.Flags&AICanonname != 0 {
				ai.CanonName = canon
			}
			out = append(out, ai)
		}
	}
	return out, ESUCCESS, ""
}

func lookupService(service string, flags uint16, st SockType) (uint16, Errno) {
	if service == "" {
		return 0, ESUCCESS
	}
	if n, err := strconv.ParseUint(service, 10, 16); err == nil {
		return uint16(n), ESUCCESS
	}
	if flags&AINumericserv != 0 {
		return 0, EAI_NONAME
	}
	network := "tcp"
	if st == SockDgram {
		network = "udp"
	}
	p, err := net.LookupPort(network, service)
	if err != nil || p < 0 || p > 65535 {
		return 0, EAI_SERVICE
	}
	return uint16(p), ESUCCESS
}

// lookupNode returns the addresses of node filtered by the hints' family.
// nameAllowed is whether an allow entry matches node (see nameservers).
func (r *Resolver) lookupNode(ctx context.Context, node string, hints AddrInfoHints, nameAllowed bool) ([]netip.Addr, string, Errno) {
	if node == "" {
		// No node: the wildcard for a passive socket, else loopback.
		v4, v6 := netip.IPv4Unspecified(), netip.IPv6Unspecified()
		if hints.Flags&AIPassive == 0 {
			v4, v6 = netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()
		}
		switch hints.Family {
		case AFInet4:
			return []netip.Addr{v4}, "", ESUCCESS
		case AFInet6:
			return []netip.Addr{v6}, "", ESUCCESS
		}
		return []netip.Addr{v4, v6}, "", ESUCCESS
	}
	if ip, err := netip.ParseAddr(node); err == nil {
		if ip.Zone() != "" {
			// Zones cannot be expressed in the extension's addresses.
			return nil, "", EAI_NONAME
		}
		ip = ip.Unmap()
		switch {
		case hints.Family == AFInet4 && !ip.Is4(),
			hints.Family == AFInet6 && ip.Is4() && hints.Flags&AIV4mapped == 0:
			return nil, "", EAI_ADDRFAMILY
		case hints.Family == AFInet6 && ip.Is4():
			ip = netip.AddrFrom16(ip.As16())
		}
		return []netip.Addr{ip}, ip.String(), ESUCCESS
	}
	if hints.Flags&AINumerichost != 0 {
		return nil, "", EAI_NONAME
	}

	var ips []netip.Addr
	if r.Hosts != "" {
		ips = lookupHostsFile(r.Hosts, node)
	}
	var servers []string
	if len(ips) == 0 && (r.ResolvConf != "" || r.Egress != nil) {
		// Never empty without a policy: readNameservers has defaults.
		if servers = r.nameservers(nameAllowed); len(servers) == 0 {
			// No query may leave, so Go's resolver (which reads
			// /etc/hosts, then asks DNS) is not called at all; every
			// name not in a hosts file gets the same answer.
			if r.Hosts == "" {
				ips = lookupHostsFile(systemHosts, node)
			}
			if len(ips) == 0 {
				return nil, "", EAI_FAIL
			}
		}
	}
	canon := node
	if len(ips) == 0 {
		gr := r.goResolver(servers)
		var errno Errno
		if ips, errno = lookupDNS(ctx, gr, node); errno != 0 {
			return nil, "", errno
		}
		if hints.Flags&AICanonname != 0 {
			if c, err := gr.LookupCNAME(ctx, node); err == nil {
				canon = strings.TrimSuffix(c, ".")
			}
		}
	}
	ips = filterFamily(ips, hints)
	if len(ips) == 0 {
		return nil, "", EAI_NODATA
	}
	return ips, canon, ESUCCESS
}

// lookupDNS asks DNS for node's IPv4 and IPv6 addresses, a query each (A,
// AAAA), and keeps the answer that decides: the addresses, if either
// query found some; else no such name (EAI_NONAME) if either was told the
// name does not exist, whatever the other met (a timeout, a failing
// server), where Go's own "ip" lookup reports the error that came last;
// else the failure (EAI_AGAIN for a server that fails or does not answer).
func lookupDNS(ctx context.Context, gr *net.Resolver, node string) ([]netip.Addr, Errno) {
	var wg sync.WaitGroup
	var found [2][]netip.Addr
	var errs [2]error
	for i, network := range [2]string{"ip4", "ip6"} {
		wg.Go(func() { found[i], errs[i] = gr.LookupNetIP(ctx, network, node) })
	}
	wg.Wait()
	var ips []netip.Addr
	for _, ip := range append(found[0], found[1]...) {
		ips = append(ips, ip.Unmap())
	}
	if len(ips) > 0 {
		return ips, ESUCCESS
	}
	errno := ESUCCESS
	for _, err := range errs {
		switch e := dnsErrno(err); {
		case err == nil:
		case e == EAI_NONAME:
			return nil, EAI_NONAME
		case errno == ESUCCESS:
			errno = e
		}
	}
	return nil, errno
}

// filterFamily keeps the addresses of the family asked for. With AF_INET6
// and V4MAPPED, IPv4 addresses are mapped when there is no IPv6 address (or
// always, with ALL).
func filterFamily(ips []netip.Addr, hints AddrInfoHints) []netip.Addr {
	var v4, v6 []netip.Addr
	for _, ip := range ips {
		if ip.Is4() {
			v4 = append(v4, ip)
		} else {
			v6 = append(v6, ip)
		}
	}
	switch hints.Family {
	case AFInet4:
		return v4
	case AFInet6:
		if hints.Flags&AIV4mapped != 0 && (len(v6) == 0 || hints.Flags&AIAll != 0) {
			for _, ip := range v4 {
				v6 = append(v6, netip.AddrFrom16(ip.As16()))
			}
		}
		return v6
	}
	return append(v4, v6...)
}

// dnsErrno maps a Go resolver error to an EAI_* errno.
func dnsErrno(err error) Errno {
	var de *net.DNSError
	if errors.As(err, &de) {
		switch {
		case de.IsNotFound:
			return EAI_NONAME
		case de.IsTimeout, de.IsTemporary:
			return EAI_AGAIN
		}
		return EAI_FAIL
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return EAI_AGAIN
	}
	return EAI_FAIL
}
