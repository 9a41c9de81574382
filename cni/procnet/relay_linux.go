package procnet

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// A UDP socket cannot be held to a destination the way a TCP one is
// (pinPeer): whoever holds it may send to any address. So the creator
// keeps its UDP sockets and relays for the container process, which gets
// one end of a SOCK_SEQPACKET socket pair instead: each record is a
// datagram with a header, the destination on the way out, the source on
// the way in. Every destination is checked against the Policy on the way
// out, so a container process taken over by its guest can send nothing
// where the guest may not. The first record the process reads is the
// header alone, with the UDP socket's own address (its getsockname).
//
// The header (RelayHeaderLen bytes): the address family (4 or 6), the
// port (big-endian) and the address in 16 bytes (an IPv4 one in the
// first 4).

// RelayHeaderLen is the size of a relayed datagram's header.
const RelayHeaderLen = 19

// maxDatagram bounds a relayed datagram's payload (UDP's).
const maxDatagram = 65535

// PutRelayHeader writes ap into b[:RelayHeaderLen].
func PutRelayHeader(b []byte, ap netip.AddrPort) {
	clear(b[:RelayHeaderLen])
	ip := ap.Addr().Unmap()
	if ip.Is4() {
		b[0] = 4
		a := ip.As4()
		copy(b[3:], a[:])
	} else {
		b[0] = 6
		a := ip.As16()
		copy(b[3:], a[:])
	}
	binary.BigEndian.PutUint16(b[1:], ap.Port())
}

// RelayHeader reads the address in b[:RelayHeaderLen].
func RelayHeader(b []byte) (netip.AddrPort, bool) {
	if len(b) < RelayHeaderLen {
		return netip.AddrPort{}, false
	}
	port := binary.BigEndian.Uint16(b[1:])
	switch b[0] {
	case 4:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[3:7])), port), true
	case 6:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[3:19])), port), true
	}
	return netip.AddrPort{}, false
}

// NewRelay makes a relayed UDP socket of domain (AF_INET or AF_INET6,
// IPV6_V6ONLY as v6only) in this thread's network namespace, bound to a
// port of its own, relaying under p until the process closes its end,
// which it returns (the socket pair's other end is the relay's).
func NewRelay(domain int, v6only bool, p *Policy) (int, error) {
	errno, fd := p.makeRelay(Request{Domain: domain, Type: unix.SOCK_DGRAM, V6Only: v6only})
	if errno != 0 {
		return -1, errno
	}
	return fd, nil
}

// makeRelay makes the UDP socket of a datagram request r (IPV6_V6ONLY as
// asked, bound to a port of its own) and the socket pair, starts relaying
// between them under p, and returns the process's end.
func (p *Policy) makeRelay(r Request) (unix.Errno, int) {
	fd, err := unix.Socket(r.Domain, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, r.Proto)
	if err != nil {
		return errnoOf(err), -1
	}
	fail := func(err error) (unix.Errno, int) {
		unix.Close(fd)
		return errnoOf(err), -1
	}
	var wild unix.Sockaddr = &unix.SockaddrInet4{}
	if r.Domain == unix.AF_INET6 {
		v := 0
		if r.V6Only {
			v = 1
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v); err != nil {
			return fail(err)
		}
		wild = &unix.SockaddrInet6{}
	}
	if err := unix.Bind(fd, wild); err != nil {
		return fail(err)
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fail(err)
	}
	// The conns have descriptors of their own (dups): the files go.
	uf := os.NewFile(uintptr(fd), "relay-udp")
	udp, err := net.FilePacketConn(uf)
	uf.Close()
	if err != nil {
		unix.Close(pair[0])
		unix.Close(pair[1])
		return errnoOf(err), -1
	}
	pf := os.NewFile(uintptr(pair[0]), "relay")
	ours, err := unixConn(pf)
	pf.Close()
	if err != nil {
		udp.Close()
		unix.Close(pair[1])
		return errnoOf(err), -1
	}
	u := udp.(*net.UDPConn)
	hello := make([]byte, RelayHeaderLen)
	PutRelayHeader(hello, u.LocalAddr().(*net.UDPAddr).AddrPort())
	if _, err := ours.Write(hello); err != nil {
		u.Close()
		ours.Close()
		unix.Close(pair[1])
		return errnoOf(err), -1
	}
	go p.relayOut(ours, u, r.Domain == unix.AF_INET6)
	go relayIn(u, ours)
	return 0, pair[1]
}

// relayOut sends the process's datagrams from u, each to the destination
// in its header if p permits it (others are dropped, as a firewall
// would), until the process closes its end; then it closes both.
func (p *Policy) relayOut(c *net.UnixConn, u *net.UDPConn, ipv6 bool) {
	defer u.Close()
	defer c.Close()
	buf := make([]byte, RelayHeaderLen+maxDatagram)
	for {
		n, err := c.Read(buf)
		if err != nil || n == 0 {
			return // the process closed its end (EOF) or went
		}
		to, ok := RelayHeader(buf[:n])
		if !ok {
			continue
		}
		var blocked []netip.Prefix
		if p.Blocked != nil {
			_, blocked = p.Blocked()
		}
		if !p.permits(to, blocked) {
			continue
		}
		if ipv6 && to.Addr().Is4() {
			to = netip.AddrPortFrom(netip.AddrFrom16(to.Addr().As16()), to.Port())
		}
		u.WriteToUDPAddrPort(buf[RelayHeaderLen:n], to)
	}
}

// relayIn passes the datagrams u receives to the process, each with its
// source in the header, until u or the process's end is closed.
func relayIn(u *net.UDPConn, c *net.UnixConn) {
	buf := make([]byte, RelayHeaderLen+maxDatagram)
	for {
		n, from, err := u.ReadFromUDPAddrPort(buf[RelayHeaderLen:])
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // a reported error of an earlier send (ICMP)
		}
		PutRelayHeader(buf, from)
		if _, err := c.Write(buf[:RelayHeaderLen+n]); err != nil {
			return
		}
	}
}
