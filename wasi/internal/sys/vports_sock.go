package sys

import (
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// The socket calls' side of VirtualPorts (System.VPorts): each hook is one
// call from the socket function it serves, and does nothing without a
// table.

// whyNotOwn is why a connect to a loopback port the app does not hold is
// refused.
const whyNotOwn = "not one of the app's own ports under simulated isolation"

var (
	loop4       = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	loop4Mapped = netip.AddrFrom16(loop4.As16())
)

// bindVirtual binds f for a guest bind to a: a port P (or 0) on any or a
// loopback address is a free host port on loopback, recorded as P (a bind
// to port 0 gets the host's port as its own). Another address is
// EADDRNOTAVAIL: the app has no other. A datagram socket bound to any
// address and port 0 (a client's habit before it sends, anywhere) is bound
// as asked and holds no port of the table.
func (s *System) bindVirtual(f *File, a Addr) Errno {
	if _, errno := inetForm(f.Sock.Family, a); errno != 0 {
		return errno
	}
	ip := a.IP.WithZone("")
	var host netip.Addr
	var sides [2]bool
	switch u := ip.Unmap(); {
	case f.Sock.Type == SockDgram && a.Port == 0 && u.IsUnspecified():
		return f.bindHost(a)
	case u.Is4() && (u.IsUnspecified() || u.IsLoopback()):
		sides[0], host = true, loop4
		if ip.Is4In6() {
			host = loop4Mapped
		}
	case ip == netip.IPv6Loopback():
		sides[1], host = true, netip.IPv6Loopback()
	case ip == netip.IPv6Unspecified():
		if v6only, errno := f.v6only(); errno != 0 {
			return errno
		} else if v6only {
			sides[1], host = true, netip.IPv6Loopback()
		} else {
			// Dual-stack: both sides, on the IPv4 loopback (which IPv6
			// sockets reach as ::ffff:127.0.0.1).
			sides, host = [2]bool{true, true}, loop4Mapped
		}
	default:
		return EADDRNOTAVAIL
	}
	v := s.VPorts
	if a.Port != 0 && !v.free(vkey{f.Sock.Type, a.Port}, sides) {
		return EADDRINUSE
	}
	if errno := f.bindHost(Addr{Family: f.Sock.Family, IP: host}); errno != 0 {
		return errno
	}
	got, errno := s.localAddr(f)
	if errno != 0 {
		return errno
	}
	h := got.AddrPort()
	guest := Addr{Family: a.Family, IP: a.IP, Port: cmpPort(a.Port, h.Port())}
	if !v.hold(f.Sock, vkey{f.Sock.Type, guest.Port}, sides, guest, h) {
		return EADDRINUSE
	}
	return ESUCCESS
}

func cmpPort(p, host uint16) uint16 {
	if p == 0 {
		return host
	}
	return p
}

// virtualDest is where a connect or send_to of f to a goes: a loopback or
// unspecified destination at a port of the app's is its host socket, at
// another port ECONNREFUSED (a datagram may answer a sender heard from);
// a Blocked one is EHOSTUNREACH unless an allow entry names it; the rest
// goes as asked.
func (s *System) virtualDest(f *File, a Addr) (Addr, Errno, string) {
	v := s.VPorts
	if v == nil || f.Sock.Family == AFUnix || !a.IP.IsValid() {
		return a, ESUCCESS, ""
	}
	ip := EffectiveAddr(a.IP)
	if !ip.IsLoopback() {
		if bits := longestMatch(v.blocked(f.Sock), ip); bits >= 0 && !s.Egress.names(ip, bits) {
			return a, EHOSTUNREACH, whyIsolated
		}
		return a, ESUCCESS, ""
	}
	host, ok := v.Lookup(f.Sock.Type, a.Port, ip.Is6())
	if !ok {
		if f.Sock.Type == SockDgram && v.answers(netip.AddrPortFrom(ip, a.Port), time.Now()) {
			return a, ESUCCESS, ""
		}
		return a, ECONNREFUSED, whyNotOwn
	}
	a.IP, a.Port = host.Addr(), host.Port()
	if f.Sock.Family == AFInet4 {
		a.IP = a.IP.Unmap()
	}
	return a, ESUCCESS, ""
}

// localVirtual is getsockname of f: the guest's own bound address, or the
// host's a with a port of the app's host sockets named as the guest's.
func (s *System) localVirtual(f *File, a Addr) Addr {
	if s.VPorts == nil || f.Sock.Family == AFUnix {
		return a
	}
	if g, ok := s.VPorts.bound(f.Sock); ok {
		return g
	}
	return s.peerVirtual(f, a)
}

// peerVirtual names a loopback address at one of the app's host ports
// (an accepted connection's local side, the peer of a connect to the
// app's own port) with the guest's port.
func (s *System) peerVirtual(f *File, a Addr) Addr {
	if s.VPorts == nil || !a.IP.IsValid() || !a.IP.Unmap().IsLoopback() {
		return a
	}
	if p, ok := s.VPorts.GuestPort(f.Sock.Type, a.AddrPort()); ok {
		a.Port = p
	}
	return a
}

// senderVirtual is the sender of a datagram fd received, as the guest
// names it (peerVirtual); another loopback sender may be answered
// (VirtualPorts.Heard).
func (s *System) senderVirtual(fd int32, from Addr) Addr {
	f, errno := s.lookupSocket(fd, 0)
	if errno != 0 || f.Sock.Type != SockDgram || !from.IP.IsValid() || !from.IP.Unmap().IsLoopback() {
		return from
	}
	if g := s.peerVirtual(f, from); g.Port != from.Port {
		return g
	}
	s.VPorts.Heard(netip.AddrPortFrom(from.IP.Unmap(), from.Port), time.Now())
	return from
}

// Dial connects to the app's own port at addr (127.0.0.1:P or [::1]:P,
// "tcp" or "udp"): the userspace forwarder's way in, asked of the process
// over its dial socket pair. IPv4 is tried first, then IPv6.
func (v *VirtualPorts) Dial(network, addr string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, err
	}
	typ := SockStream
	if strings.HasPrefix(network, "udp") {
		typ = SockDgram
	}
	host, ok := v.Lookup(typ, ap.Port(), ap.Addr().Is6() && !ap.Addr().Is4In6())
	if !ok {
		host, ok = v.Lookup(typ, ap.Port(), !(ap.Addr().Is6() && !ap.Addr().Is4In6()))
	}
	if !ok {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: net.UDPAddrFromAddrPort(ap), Err: syscall.ECONNREFUSED}
	}
	return net.DialTimeout(network, netip.AddrPortFrom(host.Addr().Unmap(), host.Port()).String(), 10*time.Second)
}

// listenVirtual readies f for a listen under simulated isolation: a
// socket the guest did not bind gets a port of the app's first, as the
// kernel gives an unbound one a free port (on the host it would listen
// on every address, at a port outside the app's table: open to the
// network, and able to take a port another app forwards). One bound on
// the host by a refused connect is not the app's to listen on (EINVAL).
func (s *System) listenVirtual(f *File) Errno {
	v := s.VPorts
	if v == nil || f.Sock.Family == AFUnix {
		return ESUCCESS
	}
	if f.Sock.Type == SockDgram {
		return ENOTSUP // EOPNOTSUPP, as Linux says; before anything binds it
	}
	if _, ok := v.bound(f.Sock); ok {
		return ESUCCESS
	}
	la, errno := s.localAddr(f)
	if errno != 0 {
		return errno
	}
	if la.Port != 0 {
		return EINVAL
	}
	any := Addr{Family: f.Sock.Family, IP: netip.IPv4Unspecified()}
	if f.Sock.Family == AFInet6 {
		any.IP = netip.IPv6Unspecified()
	}
	return s.bindVirtual(f, any)
}
