//go:build linux || darwin

package sys

import (
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/internal/relaywire"
)

// A datagram socket that moves outside gets no UDP socket of the host's:
// its maker relays for it (cni/procnet's makeRelay), so that even a
// container process taken over by its guest sends only where the maker
// permits. The guest's descriptor is then one end of a SOCK_SEQPACKET
// socket pair whose records are datagrams behind a header
// (internal/relaywire).

// relayHeaderLen is the size of a relayed datagram's header.
const relayHeaderLen = relaywire.HeaderLen

var (
	putRelayHeader = relaywire.PutHeader
	relayHeader    = relaywire.Header
)

// relayAddr is the guest's view of a relayed address, for a socket of
// family fam: an IPv4 one is IPv4-mapped on an IPv6 socket.
func relayAddr(fam Family, ap netip.AddrPort) Addr {
	ip := ap.Addr()
	if fam == AFInet6 && ip.Is4() {
		ip = netip.AddrFrom16(ip.As16())
	}
	return Addr{Family: fam, IP: ip, Port: ap.Port()}
}

// startRelay takes over relay fd for f: it reads the relayed socket's own
// address (the first record).
func (f *File) startRelay(fd int) Errno {
	var hdr [relayHeaderLen]byte
	n, _, err := unix.Recvfrom(fd, hdr[:], unix.MSG_DONTWAIT)
	if err != nil {
		return ErrnoFromError(err)
	}
	local, ok := relayHeader(hdr[:n])
	if !ok {
		return EIO
	}
	f.Sock.relay, f.Sock.relayLocal = true, relayAddr(f.Sock.Family, local)
	return ESUCCESS
}

// relaySend sends bufs as one datagram to a (nil: f's peer) through f's
// relay, as a send on a socket does.
func (s *System) relaySend(f *File, bufs [][]byte, a *Addr, flags int) (uint32, Errno) {
	n, err := s.relayWrite(f, bufs, a, flags)
	if f.edge != nil {
		f.edgeWrite(n, buffersLen(bufs), ErrnoFromError(err))
	}
	if err != nil {
		return 0, ErrnoFromError(err)
	}
	return uint32(n), ESUCCESS
}

// relayWrite is relaySend's sendmsg: to a, or to f's peer when a is nil
// (EDESTADDRREQ without one, as an unconnected datagram socket's send).
func (s *System) relayWrite(f *File, bufs [][]byte, a *Addr, flags int) (int, error) {
	if a == nil {
		if a = f.Sock.peer; a == nil {
			return 0, unix.EDESTADDRREQ
		}
	}
	var hdr [relayHeaderLen]byte
	putRelayHeader(hdr[:], netip.AddrPortFrom(a.IP, a.Port))
	iov := append([][]byte{hdr[:]}, bufs...)
	for {
		n, err := unix.SendmsgBuffers(f.Fd, iov, nil, nil, flags)
		if err != unix.EINTR {
			return max(n-relayHeaderLen, 0), err
		}
	}
}

// relayRecv receives a datagram into bufs through f's relay (recvmsg with
// flags), and its source; a connected socket takes only its peer's, as
// the kernel's does.
func (s *System) relayRecv(f *File, bufs [][]byte, flags int) (n, rflags int, from Addr, err error) {
	var hdr [relayHeaderLen]byte
	iov := append([][]byte{hdr[:]}, bufs...)
	for {
		n, _, rflags, _, err = unix.RecvmsgBuffers(f.Fd, iov, nil, flags)
		if err != nil || n == 0 {
			return 0, rflags, Addr{}, err
		}
		src, ok := relayHeader(hdr[:])
		if !ok {
			continue
		}
		from = relayAddr(f.Sock.Family, src)
		if p := f.Sock.peer; p != nil && (EffectiveAddr(p.IP) != EffectiveAddr(from.IP) || p.Port != from.Port) {
			if flags&unix.MSG_PEEK != 0 {
				// Not the peer's: gone, as the kernel never queues it.
				unix.Recvfrom(f.Fd, hdr[:], unix.MSG_DONTWAIT)
			}
			continue
		}
		return max(n-relayHeaderLen, 0), rflags, from, nil
	}
}
