package procnet

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/internal/peerset"
	"github.com/wasmrun/wasmrun/internal/relaywire"
)

// A UDP socket cannot be held to a destination the way a TCP one is
// (pinPeer): whoever holds it may send to any address. So the creator
// keeps its UDP sockets and relays for the container process, which gets
// one end of a SOCK_SEQPACKET socket pair instead, whose records are
// datagrams behind a header (internal/relaywire). Every destination is
// checked against the Policy on the way out, so a container process taken
// over by its guest can send nothing where the guest may not; on the way
// in, only the destinations it sent to are heard (peerset).

// maxDatagram bounds a relayed datagram's payload (UDP's).
const maxDatagram = 65535

// maxRelays bounds the relays one creator runs at once: each holds a UDP
// socket and two goroutines of the creator's, which a guest must not be
// able to multiply without end. More are EMFILE, as a process out of
// descriptors gets. With the buffers' sizes (relaySocket, makeRelay) and
// peerset.Max, what one app can make its creator hold (outside the app's
// memory cgroup) stays under about 256 * (a datagram in hand, 64 KiB, +
// the UDP socket's receive buffer, 128 KiB, + what waits for the guest,
// 128 KiB, + 256 peers, 40 KiB) = 90 MiB.
const maxRelays = 256

// relayBuffer is the size asked for the receive buffer of a relay's UDP
// socket (the kernel doubles it): room for a burst of datagrams up to the
// largest, not the default's 208 KiB.
const relayBuffer = 64 << 10

// relayBufs are the buffers of datagrams in hand: a relay takes one only
// while it moves a datagram, so an idle relay holds none.
var relayBufs = sync.Pool{New: func() any { return new([relaywire.HeaderLen + maxDatagram]byte) }}

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
func (p *Policy) makeRelay(r Request) (errno unix.Errno, fd int) {
	if p.relays.Add(1) > maxRelays {
		p.relays.Add(-1)
		return unix.EMFILE, -1
	}
	var closers []func() error // what goes if the relay does not start
	defer func() {
		if errno != 0 {
			for _, c := range closers {
				c()
			}
			p.relays.Add(-1)
		}
	}()
	u, err := relaySocket(r)
	if err != nil {
		return errnoOf(err), -1
	}
	closers = append(closers, u.Close)
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return errnoOf(err), -1
	}
	// What the relay passes in waits, for a guest that does not read, in
	// its end's send buffer: room for the largest datagram (doubled by
	// the kernel), not the default's 208 KiB.
	if err := unix.SetsockoptInt(pair[0], unix.SOL_SOCKET, unix.SO_SNDBUF, relaywire.HeaderLen+maxDatagram); err != nil {
		unix.Close(pair[0])
		unix.Close(pair[1])
		return errnoOf(err), -1
	}
	closers = append(closers, func() error { return unix.Close(pair[1]) })
	pf := os.NewFile(uintptr(pair[0]), "relay")
	ours, err := unixConn(pf) // a descriptor of its own
	pf.Close()
	if err != nil {
		return errnoOf(err), -1
	}
	closers = append(closers, ours.Close)
	hello := make([]byte, relaywire.HeaderLen)
	relaywire.PutHeader(hello, u.LocalAddr().(*net.UDPAddr).AddrPort())
	if _, err := ours.Write(hello); err != nil {
		return errnoOf(err), -1
	}
	sent := &peerset.Set{}
	go func() {
		defer p.relays.Add(-1)
		p.relayOut(ours, u, r.Domain == unix.AF_INET6, sent)
	}()
	go relayIn(u, ours, sent)
	return 0, pair[1]
}

// relaySocket is the UDP socket of relay request r: IPV6_V6ONLY as asked,
// bound to a port of its own.
func relaySocket(r Request) (*net.UDPConn, error) {
	fd, err := unix.Socket(r.Domain, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, r.Proto)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "relay-udp")
	defer f.Close() // the conn has a descriptor of its own
	if err := setV6Only(fd, r); err != nil {
		return nil, err
	}
	var wild unix.Sockaddr = &unix.SockaddrInet4{}
	if r.Domain == unix.AF_INET6 {
		wild = &unix.SockaddrInet6{}
	}
	if err := unix.Bind(fd, wild); err != nil {
		return nil, err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, relayBuffer); err != nil {
		return nil, err
	}
	c, err := net.FilePacketConn(f)
	if err != nil {
		return nil, err
	}
	return c.(*net.UDPConn), nil
}

// readHeld reads one record or datagram from rc into a buffer taken only
// once there is one to read, and returns the buffer (nil on error) and
// the datagram's length and source (for UDP).
func readHeld(rc syscall.RawConn, udp bool) (buf *[relaywire.HeaderLen + maxDatagram]byte, n int, from unix.Sockaddr, err error) {
	rerr := rc.Read(func(fd uintptr) bool {
		buf = relayBufs.Get().(*[relaywire.HeaderLen + maxDatagram]byte)
		if udp {
			n, from, err = unix.Recvfrom(int(fd), buf[relaywire.HeaderLen:], unix.MSG_DONTWAIT)
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
// would), which it adds to sent, until the process closes its end; then
// it closes both.
func (p *Policy) relayOut(c *net.UnixConn, u *net.UDPConn, ipv6 bool, sent *peerset.Set) {
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
		if to, ok := relaywire.Header(buf[:n]); ok && p.permitsNow(to) {
			sent.Add(to)
			if ipv6 && to.Addr().Is4() {
				to = netip.AddrPortFrom(netip.AddrFrom16(to.Addr().As16()), to.Port())
			}
			u.WriteToUDPAddrPort(buf[relaywire.HeaderLen:n], to)
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

// relayIn passes the datagrams u receives from a destination the process
// sent to (sent) to the process, each with its source in the header, and
// drops the others, until u or the process's end is closed.
func relayIn(u *net.UDPConn, c *net.UnixConn, sent *peerset.Set) {
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
		if !sent.Has(src) {
			relayBufs.Put(buf)
			continue
		}
		relaywire.PutHeader(buf[:], src)
		_, err = c.Write(buf[:relaywire.HeaderLen+n])
		relayBufs.Put(buf)
		if err != nil {
			return
		}
	}
}
