//go:build linux || darwin

package sys

import (
	"context"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// routeOutside decides where a connect or send_to of f to a goes, and moves
// f to a host socket first when that is outside. Only a fresh socket moves
// (see Socket.fresh): one the guest bound to a port, or used in the
// namespace, stays there (it serves in the namespace, whose routes and
// rules then decide, e.g. for the replies of a forwarded UDP service), and
// so does traffic to Inside addresses. A host socket never goes to an
// Inside address (from there, that is the host's loopback), and nothing
// goes out to a Blocked one: both are EHOSTUNREACH, what the kernel
// answers when a firewall rejects the packet. No system call: this is on
// every send_to. A socket that moves is checked again against the block
// list that came with its host socket (the host's addresses now).
func (s *System) routeOutside(f *File, a Addr) Errno {
	o := s.Outside
	if o == nil || f.Sock == nil || f.Sock.Family == AFUnix {
		return ESUCCESS
	}
	ip := EffectiveAddr(a.IP)
	inside := longestMatch(o.Inside, ip) >= 0
	if !f.Sock.outside {
		if inside || !f.Sock.fresh {
			f.Sock.fresh = false // bound in the namespace from now on
			return ESUCCESS
		}
	}
	if inside || s.blockedOutside(ip) {
		return EHOSTUNREACH
	}
	if f.Sock.outside && !(f.Sock.Type == SockStream && closedStream(f.Fd)) {
		// A host stream socket is held to the destination it was made
		// for: one whose connect failed takes a new host socket (a
		// connected or connecting one gets EISCONN or EALREADY).
		return ESUCCESS
	}
	if errno := s.moveOutside(f, a); errno != 0 {
		return errno
	}
	if s.blockedOutside(ip) {
		return EHOSTUNREACH
	}
	return ESUCCESS
}

// blockedOutside reports whether ip is blocked and no allow entry names
// it.
func (s *System) blockedOutside(ip netip.Addr) bool {
	bits := longestMatch(s.Outside.blocked(), ip)
	return bits >= 0 && !s.Egress.names(ip, bits)
}

// moveOutside replaces f's socket with a host socket of the same family and
// type: a stream socket connecting to a (the guest's connect then reports
// how that goes), for a datagram one a relay of its maker's (relay_unix.go);
// IPV6_V6ONLY as the guest's, then the other options the guest set (all
// SOL_SOCKET ones, on the relay's descriptor too), and O_NONBLOCK. f keeps
// its guest descriptor; its host descriptor changes.
func (s *System) moveOutside(f *File, a Addr) Errno {
	domain, errno := hostFamily(f.Sock.Family)
	if errno != 0 {
		return errno
	}
	req := HostSocket{Domain: domain, Type: unix.SOCK_DGRAM}
	if f.Sock.Type == SockStream {
		req.Type = unix.SOCK_STREAM
		ip := a.IP.Unmap()
		if domain == unix.AF_INET6 {
			ip = netip.AddrFrom16(a.IP.As16())
		}
		req.To = netip.AddrPortFrom(ip, a.Port)
	}
	if domain == unix.AF_INET6 {
		v, err := unix.GetsockoptInt(f.Fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
		if err != nil {
			return ErrnoFromError(err)
		}
		req.V6Only = v != 0
	}
	nfd, err := s.Outside.Socket(req)
	if err != nil {
		return ErrnoFromError(err)
	}
	if req.Type == unix.SOCK_DGRAM {
		if errno := f.startRelay(nfd); errno != 0 {
			unix.Close(nfd)
			return errno
		}
	}
	for _, o := range f.Sock.opts {
		if req.Type == unix.SOCK_DGRAM && o.opt.host == unix.SO_REUSEADDR {
			continue // recorded only (recordedOnly)
		}
		if errno := setHostOpt(nfd, o.opt, o.val); errno != 0 {
			unix.Close(nfd)
			return errno
		}
	}
	fl, err := unix.FcntlInt(uintptr(f.Fd), unix.F_GETFL, 0)
	if err == nil && fl&unix.O_NONBLOCK != 0 {
		err = unix.SetNonblock(nfd, true)
	}
	if err != nil {
		unix.Close(nfd)
		return ErrnoFromError(err)
	}
	unix.Close(f.Fd)
	f.Fd, f.Sock.outside, f.Sock.handed = nfd, true, req.Type == unix.SOCK_STREAM
	return ESUCCESS
}

// Dialer returns the resolver's way to its nameservers. With hostResolver
// (the resolv.conf is the host's) every query goes through a host socket,
// as the host's own would, also to a nameserver on the host's loopback (a
// 127.0.0.53 stub). Otherwise (the namespace's own resolv.conf) queries go
// where the guest's traffic would: inside to Inside addresses, through a
// host socket to others, never to Blocked ones.
func (o *Outside) Dialer(hostResolver bool) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return nil, err
		}
		ip := EffectiveAddr(ap.Addr())
		if !hostResolver {
			if longestMatch(o.Inside, ip) >= 0 {
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			}
			if longestMatch(o.blocked(), ip) >= 0 {
				return nil, &net.OpError{Op: "dial", Net: network, Err: unix.EHOSTUNREACH}
			}
		}
		af := AFInet4
		if ip.Is6() {
			af = AFInet6
		}
		domain, _ := hostFamily(af)
		sa, errno := inetSockaddr(af, Addr{Family: af, IP: ip, Port: ap.Port()})
		if errno != 0 {
			return nil, errno
		}
		typ := unix.SOCK_DGRAM
		if strings.HasPrefix(network, "tcp") {
			typ = unix.SOCK_STREAM
		}
		fd, err := o.Socket(HostSocket{Domain: domain, Type: typ, V6Only: true, To: netip.AddrPortFrom(ip, ap.Port())})
		if err != nil {
			return nil, err
		}
		f := os.NewFile(uintptr(fd), "nameserver")
		defer f.Close()
		if typ == unix.SOCK_DGRAM {
			return dialRelay(f, netip.AddrPortFrom(ip, ap.Port()))
		}
		if d, ok := ctx.Deadline(); ok {
			// A blocking connect waits at most SO_SNDTIMEO.
			tv := unix.NsecToTimeval(max(time.Until(d), time.Millisecond).Nanoseconds())
			unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
		}
		// The socket comes connecting: this waits for the outcome
		// (EISCONN if it is in already).
		if err := unix.Connect(fd, sa); err != nil && err != unix.EISCONN {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
		return net.FileConn(f)
	}
}

// relayConn is a connected datagram conn over a relay (relay_unix.go): it
// sends to peer and reads only what peer sends. It is a net.PacketConn,
// as a UDP conn is (Go's resolver tells UDP from TCP by that).
type relayConn struct {
	c     *net.UnixConn
	local netip.AddrPort
	peer  netip.AddrPort
}

// dialRelay makes relay f a conn to peer; its first record is the relayed
// socket's own address.
func dialRelay(f *os.File, peer netip.AddrPort) (net.Conn, error) {
	var hdr [relayHeaderLen]byte
	n, _, err := unix.Recvfrom(int(f.Fd()), hdr[:], unix.MSG_DONTWAIT)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "udp", Err: err}
	}
	local, ok := relayHeader(hdr[:n])
	if !ok {
		return nil, &net.OpError{Op: "dial", Net: "udp", Err: unix.EIO}
	}
	c, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	return &relayConn{c: c.(*net.UnixConn), local: local, peer: peer}, nil
}

func (c *relayConn) Write(b []byte) (int, error) {
	return c.WriteTo(b, net.UDPAddrFromAddrPort(c.peer))
}

func (c *relayConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, &net.OpError{Op: "write", Net: "udp", Err: unix.EAFNOSUPPORT}
	}
	buf := make([]byte, relayHeaderLen+len(b))
	putRelayHeader(buf, ua.AddrPort())
	copy(buf[relayHeaderLen:], b)
	n, err := c.c.Write(buf)
	return max(n-relayHeaderLen, 0), err
}

func (c *relayConn) Read(b []byte) (int, error) {
	n, _, err := c.ReadFrom(b)
	return n, err
}

// ReadFrom returns the next datagram from the peer.
func (c *relayConn) ReadFrom(b []byte) (int, net.Addr, error) {
	buf := make([]byte, relayHeaderLen+len(b))
	for {
		n, err := c.c.Read(buf)
		if err != nil {
			return 0, nil, err
		}
		if from, ok := relayHeader(buf[:n]); ok && from.Addr().Unmap() == c.peer.Addr().Unmap() && from.Port() == c.peer.Port() {
			return copy(b, buf[relayHeaderLen:n]), net.UDPAddrFromAddrPort(from), nil
		}
	}
}

func (c *relayConn) Close() error                       { return c.c.Close() }
func (c *relayConn) LocalAddr() net.Addr                { return net.UDPAddrFromAddrPort(c.local) }
func (c *relayConn) RemoteAddr() net.Addr               { return net.UDPAddrFromAddrPort(c.peer) }
func (c *relayConn) SetDeadline(t time.Time) error      { return c.c.SetDeadline(t) }
func (c *relayConn) SetReadDeadline(t time.Time) error  { return c.c.SetReadDeadline(t) }
func (c *relayConn) SetWriteDeadline(t time.Time) error { return c.c.SetWriteDeadline(t) }
