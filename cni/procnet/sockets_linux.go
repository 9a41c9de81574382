package procnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/internal/netrule"
)

// Outbound traffic of a namespace without a bridge goes through sockets
// that the creating process (in the host's namespace) makes for the
// container process and passes to it:
//
//	container process (wasi)                   creator (ServeSockets)
//	Sockets.Socket(Request{AF_INET, SOCK_STREAM, to ...}) --- request -->  socket(2), connect(2)
//	        <-- errno, generation [, block list when newer] + SCM_RIGHTS fd ---
//
// over one SOCK_SEQPACKET socket pair. The creator makes only TCP and UDP
// sockets of IPv4 and IPv6, and holds them to what the container process
// may do with them whatever that process does next, for it may be the
// guest's once a bug lets the guest out of the WebAssembly sandbox:
//   - A TCP socket comes connecting to its destination, which the creator
//     checked against its Policy (the host itself, other apps), with a
//     locked socket filter that drops every packet not from that peer. A
//     process that disconnects it and connects it elsewhere, or makes it
//     listen, never completes a handshake: the answers are dropped.
//   - For UDP, which no filter can hold to a destination, the process gets
//     one end of a relay instead (relay_linux.go): the creator keeps the
//     UDP socket and checks the destination of every datagram.
//
// The host's addresses change after the container is made (an interface,
// a bridge, a VPN comes up): the creator numbers its block list and sends
// the current one with a socket whenever the process's is older, so the
// process checks each new host socket against the host as it is.

// requestLen is the size of one request: domain, type, protocol as
// int32s, the generation of the process's block list as a uint64, flags
// as a uint32, the destination's port as a uint16 and its address in 16
// bytes (an IPv4 one in the first 4).
const requestLen = 42

// flagV6Only is IPV6_V6ONLY in a request's flags.
const flagV6Only = 1

// replyMax bounds a reply: errno, generation, and a block list of up to
// 4096 prefixes (18 bytes each at most).
const replyMax = 4 + 8 + 4 + 4096*18

// BlockList is the creator's current block list and its generation,
// which grows with every change (see ServeSockets).
type BlockList func() (gen uint64, blocked []netip.Prefix)

// Request is a host socket the container process asks for.
type Request struct {
	// Domain is AF_INET or AF_INET6, Type SOCK_STREAM or SOCK_DGRAM, Proto
	// 0 or the matching protocol.
	Domain, Type, Proto int
	// V6Only is IPV6_V6ONLY of an AF_INET6 socket, set before it is
	// connected or bound.
	V6Only bool
	// To is where a stream socket goes: the creator connects it there.
	// Unused for a datagram socket.
	To netip.AddrPort
}

// Policy is what the creator holds a socket's destination to, as the
// container process does (wasi's Outside and Egress): the egress
// policy's address prefixes (a guest that may not send somewhere gets no
// socket there from the creator either), and never an address in the
// block list, unless an allow prefix at least as specific as the block
// names it (and no more specific deny prefix), or it is port 53 of one of
// the resolver's nameservers (the host's resolver may be a stub on the
// host's loopback). Host-name entries of the egress policy open no
// blocked address.
type Policy struct {
	// Blocked is the block list (nil: nothing is blocked).
	Blocked     BlockList
	Allow, Deny []netip.Prefix
	// NameGrants: the egress policy has allow entries that are host
	// names. What they resolve to is granted to the guest (wasi's
	// Egress), which the creator does not see: it then refuses by the
	// prefixes only what no grant could open (a deny narrower than /0).
	NameGrants bool
	// Owner, when set, is whom the sockets are made as (their file
	// credentials' fs uid and gid, which iptables' owner match and the
	// socket's uid report), instead of the creator.
	Owner       *Owner
	Nameservers []netip.Addr
	// Log, when set, says once that stream sockets go unheld: without
	// root, a kernel may refuse socket filters (EPERM); the creator then
	// checks their destination and connects them, and that is all.
	Log func(format string, args ...any)

	unheld sync.Once
	relays atomic.Int32 // relays running (makeRelay)
	loop   relayLoop
	app    atomic.Int64 // the process whose cpu cgroup relays in (SetApp)
}

// SetApp names the process (pid) the sockets are for: the thread that
// relays its datagrams joins that process's cpu cgroup, so that the work
// counts in the app's CPU quota. Call it once the process has started.
func (p *Policy) SetApp(pid int) { p.app.Store(int64(pid)) }

// judge says whether a socket may go to to, given the block list as it
// is now: 0, EPERM for what the egress policy denies (as the guest's own
// check answers), EHOSTUNREACH for a blocked address nothing opens.
func (p *Policy) judge(to netip.AddrPort, blocked []netip.Prefix) unix.Errno {
	ip := netrule.Effective(to.Addr())
	if !p.egressPermits(ip) {
		return unix.EPERM
	}
	bits := netrule.LongestMatch(blocked, ip)
	switch {
	case bits < 0:
		return 0
	case to.Port() == 53 && slices.ContainsFunc(p.Nameservers, func(a netip.Addr) bool { return netrule.Effective(a) == ip }):
		return 0
	case netrule.Opens(p.Allow, p.Deny, ip, bits):
		return 0
	}
	return unix.EHOSTUNREACH
}

// egressPermits judges ip (an Effective address) by the egress policy's
// prefixes as wasi's Egress does (the most specific decides, deny on a
// tie; with any allow entry, what none matches is refused), except that
// with NameGrants what a name's grant could open (a catch-all deny, an
// allow list's default) is let through.
func (p *Policy) egressPermits(ip netip.Addr) bool {
	if len(p.Allow)+len(p.Deny) == 0 && !p.NameGrants {
		return true
	}
	allow, deny := netrule.LongestMatch(p.Allow, ip), netrule.LongestMatch(p.Deny, ip)
	switch {
	case deny >= 0 && deny >= allow:
		return deny == 0 && p.NameGrants
	case allow >= 0:
		return true
	}
	return len(p.Allow) == 0 || p.NameGrants
}

// ServeSockets makes sockets in this process's network namespace for the
// process at the other end of f (the host end of DialSocketPair), until it
// closes its end or f is closed, and sends p's block list with a socket
// when the process's is older. It takes ownership of f.
func ServeSockets(f *os.File, p *Policy) error {
	c, err := unixConn(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("serve sockets: %w", err)
	}
	defer c.Close()
	buf := make([]byte, 64)
	for {
		k, _, _, _, err := c.ReadMsgUnix(buf, nil)
		if err != nil || k == 0 {
			if err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, unix.ECONNRESET) {
				return nil
			}
			return fmt.Errorf("serve sockets: read request: %w", err)
		}
		var gen uint64
		var list []netip.Prefix
		if p.Blocked != nil {
			gen, list = p.Blocked()
		}
		errno, fd := p.makeSocket(buf[:k], list)
		reply := binary.LittleEndian.AppendUint32(nil, uint32(errno))
		reply = binary.LittleEndian.AppendUint64(reply, gen)
		if p.Blocked != nil && k == requestLen && gen != binary.LittleEndian.Uint64(buf[12:]) {
			reply = appendPrefixes(reply, list)
		}
		var oob []byte
		if fd >= 0 {
			oob = unix.UnixRights(fd)
		}
		_, _, err = c.WriteMsgUnix(reply, oob, nil)
		if fd >= 0 {
			unix.Close(fd)
		}
		if err != nil {
			return fmt.Errorf("serve sockets: reply: %w", err)
		}
	}
}

// appendPrefixes encodes list: a count, then per prefix its bits, its
// address's length (4 or 16) and the address.
func appendPrefixes(b []byte, list []netip.Prefix) []byte {
	list = list[:min(len(list), 4096)]
	b = binary.LittleEndian.AppendUint32(b, uint32(len(list)))
	for _, p := range list {
		a := p.Addr().AsSlice()
		b = append(b, byte(p.Bits()), byte(len(a)))
		b = append(b, a...)
	}
	return b
}

// parsePrefixes decodes what appendPrefixes wrote.
func parsePrefixes(b []byte) ([]netip.Prefix, bool) {
	if len(b) < 4 {
		return nil, false
	}
	n := int(binary.LittleEndian.Uint32(b))
	b = b[4:]
	if n > 4096 {
		return nil, false
	}
	out := make([]netip.Prefix, 0, n)
	for range n {
		if len(b) < 2 || int(b[1]) != 4 && int(b[1]) != 16 || len(b) < 2+int(b[1]) {
			return nil, false
		}
		a, _ := netip.AddrFromSlice(b[2 : 2+int(b[1])])
		p, err := a.Prefix(int(b[0]))
		if err != nil || p.Bits() != int(b[0]) {
			return nil, false
		}
		out = append(out, p)
		b = b[2+int(b[1]):]
	}
	return out, len(b) == 0
}

// parseRequest decodes a request.
func parseRequest(req []byte) (Request, bool) {
	if len(req) != requestLen {
		return Request{}, false
	}
	r := Request{
		Domain: int(int32(binary.LittleEndian.Uint32(req[0:]))),
		Type:   int(int32(binary.LittleEndian.Uint32(req[4:]))),
		Proto:  int(int32(binary.LittleEndian.Uint32(req[8:]))),
		V6Only: binary.LittleEndian.Uint32(req[20:])&flagV6Only != 0,
	}
	port := binary.LittleEndian.Uint16(req[24:])
	if r.Domain == unix.AF_INET {
		r.To = netip.AddrPortFrom(netip.AddrFrom4([4]byte(req[26:30])), port)
	} else {
		r.To = netip.AddrPortFrom(netip.AddrFrom16([16]byte(req[26:42])), port)
	}
	return r, true
}

// appendRequest encodes r with gen, the process's block list generation.
func appendRequest(b []byte, r Request, gen uint64) []byte {
	for _, v := range []int{r.Domain, r.Type, r.Proto} {
		b = binary.LittleEndian.AppendUint32(b, uint32(int32(v)))
	}
	b = binary.LittleEndian.AppendUint64(b, gen)
	var flags uint32
	if r.V6Only {
		flags |= flagV6Only
	}
	b = binary.LittleEndian.AppendUint32(b, flags)
	b = binary.LittleEndian.AppendUint16(b, r.To.Port())
	var a [16]byte
	if ip := r.To.Addr(); ip.Is4() {
		*(*[4]byte)(a[:4]) = ip.As4()
	} else if ip.IsValid() {
		a = ip.As16()
	}
	return append(b, a[:]...)
}

// makeSocket answers one request with blocked as the block list: only TCP
// and UDP sockets of IPv4 and IPv6, close-on-exec; a TCP one connecting to
// a destination p permits, held to it (pinPeer); for UDP, the process's
// end of a relay (makeRelay).
func (p *Policy) makeSocket(req []byte, blocked []netip.Prefix) (unix.Errno, int) {
	r, ok := parseRequest(req)
	if !ok {
		return unix.EINVAL, -1
	}
	if r.Domain != unix.AF_INET && r.Domain != unix.AF_INET6 {
		return unix.EAFNOSUPPORT, -1
	}
	switch {
	case r.Type == unix.SOCK_DGRAM && (r.Proto == 0 || r.Proto == unix.IPPROTO_UDP):
		return p.makeRelay(r)
	case r.Type != unix.SOCK_STREAM || (r.Proto != 0 && r.Proto != unix.IPPROTO_TCP):
		return unix.EPROTONOSUPPORT, -1
	case r.To.Port() == 0:
		return unix.EINVAL, -1
	}
	if errno := p.judge(r.To, blocked); errno != 0 {
		return errno, -1
	}
	to := sockaddrFor(r.Domain, r.To)
	fd, err := p.socket(r.Domain, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, r.Proto)
	if err != nil {
		return errnoOf(err), -1
	}
	fail := func(err error) (unix.Errno, int) {
		unix.Close(fd)
		return errnoOf(err), -1
	}
	if err := setV6Only(fd, r); err != nil {
		return fail(err)
	}
	// Held to the peer before the first packet: its SYN-ACK is the first
	// the socket takes.
	if err := pinPeer(fd, netip.AddrPortFrom(netrule.Effective(r.To.Addr()), r.To.Port())); err != nil {
		if !errors.Is(err, unix.EPERM) || os.Geteuid() == 0 {
			return fail(err)
		}
		p.unheld.Do(func() {
			if p.Log != nil {
				p.Log("outbound: host sockets are checked but not held to their destination: %v (this kernel refuses socket filters without root)", err)
			}
		})
	}
	if err := unix.Connect(fd, to); err != nil && err != unix.EINPROGRESS {
		return fail(err)
	}
	// The process chooses blocking or not; the connect goes on meanwhile.
	if err := unix.SetNonblock(fd, false); err != nil {
		return fail(err)
	}
	return 0, fd
}

// setV6Only sets IPV6_V6ONLY of r's AF_INET6 socket fd as r asks.
func setV6Only(fd int, r Request) error {
	if r.Domain != unix.AF_INET6 {
		return nil
	}
	v := 0
	if r.V6Only {
		v = 1
	}
	return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v)
}

// errnoOf is err's errno, or EIO.
func errnoOf(err error) unix.Errno {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return unix.EIO
}

// Sockets asks the ServeSockets at the other end of a descriptor for
// host sockets and keeps the block list that comes with them. It is safe
// for concurrent use.
type Sockets struct {
	fd      int
	mu      sync.Mutex // one request at a time
	gen     uint64
	blocked atomic.Pointer[[]netip.Prefix]
}

// NewSockets asks on fd, starting from out's block list.
func NewSockets(fd int, out *Outbound) *Sockets {
	s := &Sockets{fd: fd, gen: out.BlockedGen}
	s.blocked.Store(&out.Blocked)
	return s
}

// Blocked returns the current block list.
func (s *Sockets) Blocked() []netip.Prefix { return *s.blocked.Load() }

// Socket returns a new socket(2) of the creator's namespace as r asks
// (see ServeSockets: a stream socket comes connecting to r.To), and takes
// the block list that came with it.
func (s *Sockets) Socket(r Request) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req := appendRequest(make([]byte, 0, requestLen), r, s.gen)
	if err := unix.Sendmsg(s.fd, req, nil, nil, 0); err != nil {
		return -1, fmt.Errorf("ask for a host socket: %w", err)
	}
	buf := make([]byte, replyMax)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, flags, _, err := unix.Recvmsg(s.fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("ask for a host socket: %w", err)
	}
	var fds []int
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
		for _, m := range msgs {
			if r, err := unix.ParseUnixRights(&m); err == nil {
				fds = append(fds, r...)
			}
		}
	}
	bad := func() (int, error) {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return -1, fmt.Errorf("ask for a host socket: bad reply (%d bytes, %d fds)", n, len(fds))
	}
	if n < 12 || len(fds) > 1 || flags&unix.MSG_TRUNC != 0 {
		return bad()
	}
	if gen := binary.LittleEndian.Uint64(buf[4:]); n > 12 {
		list, ok := parsePrefixes(buf[12:n])
		if !ok {
			return bad()
		}
		s.gen = gen
		s.blocked.Store(&list)
	}
	if errno := unix.Errno(binary.LittleEndian.Uint32(buf)); errno != 0 || len(fds) == 0 {
		if errno == 0 {
			errno = unix.EIO
		}
		return -1, errno
	}
	return fds[0], nil
}

// socket makes a socket as p.Owner when there is one: on a thread of its
// own, whose fs uid and gid are switched for the call (a socket's file
// keeps the credentials it was made with), then back; a thread that could
// not be switched back ends with the goroutine that locked it.
func (p *Policy) socket(domain, typ, proto int) (int, error) {
	if p.Owner == nil {
		return unix.Socket(domain, typ, proto)
	}
	type made struct {
		fd  int
		err error
	}
	done := make(chan made, 1)
	go func() {
		runtime.LockOSThread()
		prevGID, _ := unix.SetfsgidRetGid(int(p.Owner.GID))
		prevUID, _ := unix.SetfsuidRetUid(int(p.Owner.UID))
		fd, err := unix.Socket(domain, typ, proto)
		unix.SetfsuidRetUid(prevUID)
		unix.SetfsgidRetGid(prevGID)
		// Each call returns the id before it: -1 changes nothing and
		// says whether the thread is back.
		u, _ := unix.SetfsuidRetUid(-1)
		g, _ := unix.SetfsgidRetGid(-1)
		if u != prevUID || g != prevGID {
			if err == nil {
				unix.Close(fd)
			}
			done <- made{-1, fmt.Errorf("restore the fs ids to %d:%d: they are %d:%d", prevUID, prevGID, u, g)}
			return // still locked: the thread ends here
		}
		runtime.UnlockOSThread()
		done <- made{fd, err}
	}()
	m := <-done
	return m.fd, m.err
}
