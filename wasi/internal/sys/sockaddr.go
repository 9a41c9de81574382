package sys

import (
	"net/netip"

	"github.com/wasmrun/wasmrun/internal/peerset"
)

// Family is an address family as the socket extension numbers it.
type Family uint8

const (
	AFUnspec Family = iota
	AFInet4
	AFInet6
	AFUnix
)

// SockType is a socket type as the socket extension numbers it.
type SockType uint8

const (
	SockAny SockType = iota
	SockDgram
	SockStream
)

// Receive and send flags of sock_recv / sock_send.
const (
	RiflagRecvPeek    = 1 << 0
	RiflagRecvWaitall = 1 << 1
	RoflagDataTrunc   = 1 << 0
	// RiflagDontWait is not a preview1 flag: the host's own, for a receive
	// that returns EAGAIN instead of waiting (MSG_DONTWAIT) even on a
	// blocking socket.
	RiflagDontWait = 1 << 15
)

// Shutdown directions of sock_shutdown.
const (
	ShutRD = 1 << 0
	ShutWR = 1 << 1
)

// Socket is the per-socket state of a socket descriptor.
type Socket struct {
	Family Family
	Type   SockType
	// LocalPath and PeerPath are the guest's names of a Unix socket's bound
	// and connected addresses. The host names are /proc/self/fd/... paths
	// (see unixSockaddr), which must not leak to the guest.
	LocalPath, PeerPath string
	// hostPath is the host sun_path the socket was bound to, to map a
	// datagram sender's address back to its guest name.
	hostPath string
	// opts are the options the guest set, and outside says the socket
	// was moved to a host socket (see moveOutside).
	opts    []sockoptValue
	outside bool
	// handed: a host stream socket that came connecting (see
	// moveOutside); the guest's connect reports how that goes.
	handed bool
	// relay: a datagram socket outside, whose descriptor is a relay of
	// its maker's (relay_unix.go); relayLocal is the relayed socket's own
	// address, peer the one the guest connected it to (nil: none).
	relay bool
	// counted: one of the sockets an app under simulated isolation may
	// have open (VirtualPorts.take).
	counted    bool
	relayLocal Addr
	peer       *Addr
	// fresh: made by sock_open and not yet bound or used in the
	// namespace (binding to any address and port 0 keeps it fresh), so
	// free to move outside.
	fresh bool
	// sentOut: under simulated isolation, the socket has gone out of
	// loopback once (with the block list as it was then; later sends
	// use the list as the last socket to go out found it).
	sentOut bool
	// sentTo: under simulated isolation, the destinations a datagram
	// socket sent to, the only sources it hears (see sockRecv).
	sentTo peerset.Set
	// connecting is the address of a connect in progress whose outcome
	// is still to be reported (only kept while System.Events is set).
	connecting *Addr
}

// Addr is a socket address: an IP address and port, or a Unix path.
type Addr struct {
	Family Family
	// IP is 4 bytes for AFInet4 and 16 for AFInet6.
	IP   netip.Addr
	Port uint16
	// Path is the guest's path of an AFUnix address ("" is unnamed).
	Path string
}

// AddrPort returns a's IP address and port.
func (a Addr) AddrPort() netip.AddrPort { return netip.AddrPortFrom(a.IP, a.Port) }

// filetype is what fd_fdstat_get reports for the socket.
func (sock *Socket) filetype() Filetype {
	if sock.Type == SockDgram {
		return FiletypeSocketDgram
	}
	return FiletypeSocketStream
}

// lookupSocket returns the socket at fd if it carries the rights r: EBADF
// when fd is not open, ENOTSOCK when it is not a socket (a File without
// Sock: every socket has one), whatever rights it has (a file lacks the
// socket rights, but is first of all not a socket), ENOTCAPABLE when a
// right is missing.
func (s *System) lookupSocket(fd int32, r Rights) (*File, Errno) {
	f, errno := s.Lookup(fd)
	if errno != 0 {
		return nil, errno
	}
	if f.Sock == nil {
		return nil, ENOTSOCK
	}
	if !f.Has(r) {
		return nil, ENOTCAPABLE
	}
	return f, ESUCCESS
}

// inetForm says which host address a takes on a socket of family af:
// IPv4 (is4) or IPv6, where an IPv4 address becomes IPv4-mapped, as Go
// does. EINVAL for no address, EAFNOSUPPORT for an IPv6 address on an
// IPv4 socket or a family without IP addresses.
func inetForm(af Family, a Addr) (is4 bool, errno Errno) {
	if !a.IP.IsValid() {
		return false, EINVAL
	}
	switch af {
	case AFInet4:
		if !a.IP.Is4() {
			return false, EAFNOSUPPORT
		}
		return true, ESUCCESS
	case AFInet6:
		return false, ESUCCESS
	}
	return false, EAFNOSUPPORT
}
