package procnet

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"

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

// maxRelays bounds the relays one creator runs at once: each holds a UDP
// socket and two goroutines of the creator's, which a guest must not be
// able to multiply without end. More are EMFILE, as a process out of
// descriptors gets.
const maxRelays = 1024

// relayBufs are the buffers of datagrams in hand: a relay takes one only
// while it moves a datagram, so an idle relay holds none.
var relayBufs = sync.Pool{New: func() any { return new([RelayHeaderLen + maxDatagram]byte) }}

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
	if p.relays.Add(1) > maxRelays {
		p.relays.Add(-1)
		return unix.EMFILE, -1
	}
	fd, err := unix.Socket(r.Domain, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, r.Proto)
	if err != nil {
		p.relays.Add(-1)
		return errnoOf(err), -1
	}
	fail := func(err error) (unix.Errno, int) {
		unix.Close(fd)
		p.relays.Add(-1)
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
		p.relays.Add(-1)
		return errnoOf(err), -1
	}
	pf := os.NewFile(uintptr(pair[0]), "relay")
	ours, err := unixConn(pf)
	pf.Close()
	if err != nil {
		udp.Close()
		unix.Close(pair[1])
		p.relays.Add(-1)
		return errnoOf(err), -1
	}
	u := udp.(*net.UDPConn)
	hello := make([]byte, RelayHeaderLen)
	PutRelayHeader(hello, u.LocalAddr().(*net.UDPAddr).AddrPort())
	if _, err := ours.Write(hello); err != nil {
		u.Close()
		ours.Close()
		unix.Close(pair[1])
		p.relays.Add(-1)
		return errnoOf(err), -1
	}
	go func() {
		defer p.relays.Add(-1)
		p.relayOut(ours, u, r.Domain == unix.AF_INET6)
	}()
	go relayIn(u, ours)
	return 0, pair[1]
}

// readHeld reads one record or datagram from rc into a buffer taken only
// once there is one to read, and returns the buffer (nil on error) and
// the datagram's length and source (for UDP).
func readHeld(rc syscall.RawConn, udp bool) (buf *[RelayHeaderLen + maxDatagram]byte, n int, from unix.Sockaddr, err error) {
	rerr := rc.Read(func(fd uintptr) bool {
		buf = relayBufs.Get().(*[RelayHeaderLen + maxDatagram]byte)
		if udp {
			n, from, err = unix.Recvfrom(int(fd), buf[RelayHeaderLen:], unix.MSG_DONTWAIT)
		} else {
			n, _, err = unix.Recvfrom(int(fd), buf[:], unix.MSG_DONTWAIT)
		}
		if err == unix.EAGAIN || err == unix.EINTR {
			relayBufs.Put(buf)
			buf = nil
			return false // wait for more
		}
		return true
	})
	if err == nil {
		err = rerr
	}
	if err != nil && buf != nil {
		relayBufs.Put(buf)
		buf = nil
	}
	return buf, n, from, err
}

// relayOut sends the process's datagrams from u, each to the destination
// in its header if p permits it (others are dropped, as a firewall
// would), until the process closes its end; then it closes both.
func (p *Policy) relayOut(c *net.UnixConn, u *net.UDPConn, ipv6 bool) {
	defer u.Close()
	defer c.Close()
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	for {
		buf, n, _, err := readHeld(rc, false)
		if err != nil || n == 0 {
			return // the process closed its end (EOF) or went
		}
		if to, ok := RelayHeader(buf[:n]); ok && p.permitsNow(to) {
			if ipv6 && to.Addr().Is4() {
				to = netip.AddrPortFrom(netip.AddrFrom16(to.Addr().As16()), to.Port())
			}
			u.WriteToUDPAddrPort(buf[RelayHeaderLen:n], to)
		}
		relayBufs.Put(buf)
	}
}

// permitsNow is permits with the block list as it is now.
func (p *Policy) permitsNow(to netip.AddrPort) bool {
	var blocked []netip.Prefix
	if p.Blocked != nil {
		_, blocked = p.Blocked()
	}
	return p.permits(to, blocked)
}

// relayIn passes the datagrams u receives to the process, each with its
// source in the header, until u or the process's end is closed.
func relayIn(u *net.UDPConn, c *net.UnixConn) {
	rc, err := u.SyscallConn()
	if err != nil {
		return
	}
	for {
		buf, n, from, err := readHeld(rc, true)
		if err != nil {
			var errno unix.Errno
			if errors.As(err, &errno) && errno != unix.EBADF {
				continue // an earlier send's error, reported (ICMP)
			}
			return // closed
		}
		var src netip.AddrPort
		switch sa := from.(type) {
		case *unix.SockaddrInet4:
			src = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
		case *unix.SockaddrInet6:
			src = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port))
		}
		PutRelayHeader(buf[:], src)
		_, err = c.Write(buf[:RelayHeaderLen+n])
		relayBufs.Put(buf)
		if err != nil {
			return
		}
	}
}
