package procnet

import (
	"maps"
	"net/netip"
	"runtime"
	"slices"
	"sync"

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

// maxRelays bounds the relays one creator runs at once for a Policy: each
// holds a UDP socket and a socket pair of the creator's, which a guest
// must not be able to multiply without end. More are EMFILE, as a process
// out of descriptors gets. With the buffers' sizes (relaySocket,
// makeRelay) and peerset.Max, what one app can make its creator hold
// (outside the app's memory cgroup) stays under about 256 * (the UDP
// socket's receive buffer, 128 KiB, + what waits for the guest, 128 KiB,
// + 256 peers, 40 KiB) = 75 MiB, and the one datagram in hand.
const maxRelays = 256

// relayBuffer is the size asked for the receive buffer of a relay's UDP
// socket (the kernel doubles it): room for a burst of datagrams up to the
// largest, not the default's 208 KiB.
const relayBuffer = 64 << 10

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

// A Policy's relays all run in one loop (relayLoop) on an OS thread of its
// own, which joins the cpu cgroup of the app (Policy.SetApp): relaying is
// work a guest makes the creator do at will, as fast as it sends, and so
// it is counted in the app's CPU quota and throttled with it, not done on
// the creator's own share of the machine.

// relay is one relayed UDP socket: the host's UDP socket and the
// creator's end of the socket pair whose other end the process holds.
type relay struct {
	udp, ours int
	domain    int         // the UDP socket's
	sent      peerset.Set // the destinations it sent to: those are heard
}

// relayLoop is the state of a Policy's relay loop.
type relayLoop struct {
	mu      sync.Mutex
	epfd    int
	byFD    map[int]*relay // by either of its descriptors
	running bool           // the loop's goroutine runs (and owns epfd)
}

// maxBatch bounds the datagrams one descriptor moves per wake-up, so that
// a busy relay does not starve the others of the loop.
const maxBatch = 64

// makeRelay makes the UDP socket of a datagram request r (IPV6_V6ONLY as
// asked, bound to a port of its own) and the socket pair, adds them to the
// relay loop, and returns the process's end.
func (p *Policy) makeRelay(r Request) (errno unix.Errno, fd int) {
	if p.relays.Add(1) > maxRelays {
		p.relays.Add(-1)
		return unix.EMFILE, -1
	}
	var closers []int // what goes if the relay does not start
	defer func() {
		if errno != 0 {
			for _, c := range closers {
				unix.Close(c)
			}
			p.relays.Add(-1)
		}
	}()
	u, err := p.relaySocket(r)
	if err != nil {
		return errnoOf(err), -1
	}
	closers = append(closers, u)
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return errnoOf(err), -1
	}
	closers = append(closers, pair[0], pair[1])
	// What the relay passes in waits, for a guest that does not read, in
	// its end's send buffer: room for the largest datagram (doubled by
	// the kernel), not the default's 208 KiB.
	if err := unix.SetsockoptInt(pair[0], unix.SOL_SOCKET, unix.SO_SNDBUF, relaywire.HeaderLen+maxDatagram); err != nil {
		return errnoOf(err), -1
	}
	// The process's end blocks as a socket of its own would.
	if err := unix.SetNonblock(pair[1], false); err != nil {
		return errnoOf(err), -1
	}
	sa, err := unix.Getsockname(u)
	if err != nil {
		return errnoOf(err), -1
	}
	hello := make([]byte, relaywire.HeaderLen)
	relaywire.PutHeader(hello, sockaddrPort(sa))
	if err := unix.Send(pair[0], hello, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL); err != nil {
		return errnoOf(err), -1
	}
	if err := p.addRelay(&relay{udp: u, ours: pair[0], domain: r.Domain}); err != nil {
		return errnoOf(err), -1
	}
	return 0, pair[1]
}

// relaySocket is the UDP socket of relay request r: IPV6_V6ONLY as asked,
// bound to a port of its own, non-blocking.
func (p *Policy) relaySocket(r Request) (fd int, err error) {
	fd, err = p.socket(r.Domain, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, r.Proto)
	if err != nil {
		return -1, err
	}
	defer func() {
		if err != nil {
			unix.Close(fd)
		}
	}()
	if err := setV6Only(fd, r); err != nil {
		return -1, err
	}
	var wild unix.Sockaddr = &unix.SockaddrInet4{}
	if r.Domain == unix.AF_INET6 {
		wild = &unix.SockaddrInet6{}
	}
	if err := unix.Bind(fd, wild); err != nil {
		return -1, err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, relayBuffer); err != nil {
		return -1, err
	}
	return fd, nil
}

// addRelay adds r to p's relay loop, starting the loop when it is not
// running (only with r in it: a loop never waits with nothing to relay).
func (p *Policy) addRelay(r *relay) error {
	l := &p.loop
	l.mu.Lock()
	defer l.mu.Unlock()
	epfd, fresh := l.epfd, !l.running
	if fresh {
		var err error
		if epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
			return err
		}
	}
	for _, fd := range []int{r.ours, r.udp} {
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
			unix.EpollCtl(epfd, unix.EPOLL_CTL_DEL, r.ours, nil)
			if fresh {
				unix.Close(epfd)
			}
			return err
		}
	}
	if fresh {
		l.epfd, l.byFD, l.running = epfd, map[int]*relay{}, true
		go p.runRelays(epfd)
	}
	l.byFD[r.ours], l.byFD[r.udp] = r, r
	return nil
}

// runRelays is the relay loop: it moves datagrams until its last relay is
// closed. Its thread is its own to the end (never unlocked, it ends with
// the goroutine), since it may be in the app's cpu cgroup.
func (p *Policy) runRelays(epfd int) {
	runtime.LockOSThread()
	if pid := int(p.app.Load()); pid > 0 {
		if err := joinCPUCgroup(pid); err != nil && p.Log != nil {
			p.Log("outbound: relaying the app's datagrams outside its CPU quota: %v", err)
		}
	}
	buf := make([]byte, relaywire.HeaderLen+maxDatagram)
	events := make([]unix.EpollEvent, 32)
	l := &p.loop
	for {
		n, err := unix.EpollWait(epfd, events, -1)
		if err != nil && err != unix.EINTR {
			if p.Log != nil {
				p.Log("outbound: relays stopped: %v", err)
			}
			l.mu.Lock()
			rs := slices.Collect(maps.Values(l.byFD))
			l.mu.Unlock()
			for _, r := range rs {
				p.closeRelay(r) // each twice in rs: the second does nothing
			}
		}
		for _, ev := range events[:max(n, 0)] {
			fd := int(ev.Fd)
			l.mu.Lock()
			r := l.byFD[fd]
			l.mu.Unlock()
			switch {
			case r == nil:
			case fd == r.udp:
				relayIn(r, buf)
			case !p.relayOut(r, buf):
				p.closeRelay(r)
			}
		}
		l.mu.Lock()
		if len(l.byFD) == 0 {
			l.running = false
			unix.Close(epfd)
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
	}
}

// closeRelay closes r, whose process closed its end (nothing when it is
// closed already).
func (p *Policy) closeRelay(r *relay) {
	l := &p.loop
	l.mu.Lock()
	if l.byFD[r.ours] != r {
		l.mu.Unlock()
		return
	}
	delete(l.byFD, r.ours)
	delete(l.byFD, r.udp)
	l.mu.Unlock()
	unix.Close(r.ours) // which takes them out of the epoll set
	unix.Close(r.udp)
	p.relays.Add(-1)
}

// relayOut sends the process's datagrams waiting on r's socket pair, each
// to the destination in its header if p permits it (others are dropped,
// as a firewall would), which it adds to r.sent; a datagram the UDP
// socket has no room for is dropped, as a full interface queue would. It
// reports false once the process has closed its end.
func (p *Policy) relayOut(r *relay, buf []byte) bool {
	for range maxBatch {
		n, _, err := unix.Recvfrom(r.ours, buf, unix.MSG_DONTWAIT)
		switch {
		case err == unix.EAGAIN:
			return true
		case err == unix.EINTR:
			continue
		case err != nil || n == 0:
			return false // the process closed its end (EOF) or went
		}
		to, ok := relaywire.Header(buf[:n])
		if !ok || p.judgeNow(to) != 0 {
			continue
		}
		r.sent.Add(to)
		if sa := sockaddrFor(r.domain, to); sa != nil {
			unix.Sendto(r.udp, buf[relaywire.HeaderLen:n], unix.MSG_DONTWAIT, sa)
		}
	}
	return true
}

// judgeNow is judge with the block list as it is now.
func (p *Policy) judgeNow(to netip.AddrPort) unix.Errno {
	var blocked []netip.Prefix
	if p.Blocked != nil {
		_, blocked = p.Blocked()
	}
	return p.judge(to, blocked)
}

// relayIn passes the datagrams r's UDP socket received from a destination
// the process sent to (r.sent) to the process, each with its source in
// the header, and drops the others; a datagram the process's end has no
// room for (a guest that does not read) is dropped, as a full socket
// buffer would.
func relayIn(r *relay, buf []byte) {
	for range maxBatch {
		n, from, err := unix.Recvfrom(r.udp, buf[relaywire.HeaderLen:], unix.MSG_DONTWAIT)
		if err == unix.EAGAIN {
			return
		}
		if err != nil {
			continue // an earlier send's error, reported (ICMP), or EINTR
		}
		src := sockaddrPort(from)
		if !r.sent.Has(src) {
			continue
		}
		relaywire.PutHeader(buf, src)
		unix.Send(r.ours, buf[:relaywire.HeaderLen+n], unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
	}
}

// sockaddrPort is the address and port of an IPv4 or IPv6 socket address,
// an IPv4-mapped one unmapped (the zero value for others).
func sockaddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port))
	}
	return netip.AddrPort{}
}

// sockaddrFor is the address of ap for a socket of domain: an IPv4
// address is IPv4-mapped for an IPv6 socket; nil for an IPv6 address and
// an IPv4 socket, which cannot send there.
func sockaddrFor(domain int, ap netip.AddrPort) unix.Sockaddr {
	if domain == unix.AF_INET6 {
		return &unix.SockaddrInet6{Addr: ap.Addr().As16(), Port: int(ap.Port())}
	}
	if !ap.Addr().Is4() {
		return nil
	}
	return &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}
}
