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
// how that goes), a datagram one bound to a port of its own; IPV6_V6ONLY
// as the guest's, then the other options the guest set, and O_NONBLOCK.
// f keeps its guest descriptor; its host descriptor changes.
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
	for _, o := range f.Sock.opts {
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
		if d, ok := ctx.Deadline(); ok && typ == unix.SOCK_STREAM {
			// A blocking connect waits at most SO_SNDTIMEO.
			tv := unix.NsecToTimeval(max(time.Until(d), time.Millisecond).Nanoseconds())
			unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
		}
		// A stream socket comes connecting: this waits for the outcome
		// (EISCONN if it is in already).
		if err := unix.Connect(fd, sa); err != nil && !(typ == unix.SOCK_STREAM && err == unix.EISCONN) {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
		return net.FileConn(f)
	}
}
