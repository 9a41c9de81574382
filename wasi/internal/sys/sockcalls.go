package sys

import "net/netip"

// The socket calls' portable side: events, the egress policy.

// SockBind binds fd to a. A Unix path is created inside the guest's preopens.
// Errors: EBADF, ENOTSOCK, EAFNOSUPPORT (a's family is not the socket's),
// EADDRINUSE, EADDRNOTAVAIL, ENOTCAPABLE (Unix path outside every preopen),
// ENAMETOOLONG. POSIX: bind.
func (s *System) SockBind(fd int32, a Addr) Errno {
	errno := s.sockBind(fd, a)
	if s.Events != nil {
		s.Events(Event{Call: "bind", Target: a.String(), Errno: errno})
	}
	return errno
}

// SockListen marks fd as accepting connections. Errors: EBADF, ENOTSOCK,
// EOPNOTSUPP (datagram socket), EADDRINUSE. POSIX: listen.
func (s *System) SockListen(fd int32, backlog int32) Errno {
	errno := s.sockListen(fd, backlog)
	if s.Events != nil {
		s.Events(Event{Call: "listen", Target: s.localName(fd), Errno: errno})
	}
	return errno
}

// SockAccept accepts a connection on fd and returns the new descriptor, with
// flags (only NONBLOCK is meaningful) applied. It blocks unless fd is
// non-blocking. Errors: EBADF, ENOTSOCK, ENOTCAPABLE (no SOCK_ACCEPT right),
// EAGAIN, EINVAL (not listening), EMFILE. POSIX: accept4.
func (s *System) SockAccept(fd int32, flags Fdflags) (int32, Errno) {
	nfd, errno := s.sockAccept(fd, flags)
	if s.Events != nil && errno != 0 && errno != EAGAIN {
		s.Events(Event{Call: "accept", Target: s.localName(fd), Errno: errno})
	}
	return nfd, errno
}

// SockConnect connects fd to a. A blocking socket waits for the connection;
// a non-blocking one returns EINPROGRESS and the guest polls for writable
// then reads SO_ERROR. Errors: EBADF, ENOTSOCK, EAFNOSUPPORT, ECONNREFUSED,
// EINPROGRESS, EALREADY, EISCONN, ENETUNREACH, ETIMEDOUT, ENOTCAPABLE (Unix
// path outside every preopen), EPERM (the egress policy denies where a
// leads, see checkEgress), EHOSTUNREACH (outside the guest's reach, see
// routeOutside). POSIX: connect.
func (s *System) SockConnect(fd int32, a Addr) Errno {
	f, errno, why := s.sockConnect(fd, a)
	if s.Events != nil && f != nil {
		s.connectEvent(f, a, errno, why)
	}
	return errno
}

// connectEvent reports a connect of f to a that gave errno: at once, or,
// for one in progress, once its outcome is known (see events.go).
func (s *System) connectEvent(f *File, a Addr, errno Errno, why string) {
	switch {
	case errno == EINPROGRESS:
		f.Sock.connecting = &a
	case f.Sock.connecting != nil && errno == EALREADY:
		// Still in progress.
	case f.Sock.connecting != nil && errno == EISCONN:
		s.connectDone(f, ESUCCESS)
	default:
		f.Sock.connecting = nil
		s.Events(Event{Call: "connect", Target: a.String(), Errno: errno, Why: why})
	}
}

// checkEgress applies the egress policy to a connect or sendto from f to
// ip and port, judged where the kernel delivers (EffectiveAddr), not at the
// literal address. For an unspecified destination (0.0.0.0, ::,
// ::ffff:0.0.0.0) Linux delivers to this host: to loopback, but an IPv4
// route lookup uses the socket's bound address as the destination when
// there is one, and an IPv6 socket bound to an IPv4-mapped address goes to
// 127.0.0.1. Each of those must be permitted.
func (s *System) checkEgress(f *File, ip netip.Addr, port uint16) Errno {
	if s.Egress == nil {
		return ESUCCESS
	}
	if errno := s.Egress.Check(ip, port); errno != 0 || !ip.Unmap().IsUnspecified() {
		return errno
	}
	local, errno := s.boundIP(f)
	if errno != 0 {
		return errno
	}
	if local.Is4In6() {
		if errno := s.Egress.Check(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port); errno != 0 {
			return errno
		}
	}
	if local.IsValid() && !local.Unmap().IsUnspecified() {
		return s.Egress.Check(local, port)
	}
	return ESUCCESS
}

// SockRecv reads from fd into bufs (readv with flags). Errors: EBADF,
// ENOTSOCK, ENOTCAPABLE (no FD_READ), EAGAIN, ECONNRESET, ENOTCONN. POSIX:
// recvmsg.
func (s *System) SockRecv(fd int32, bufs [][]byte, riflags uint16) (n uint32, roflags uint16, errno Errno) {
	n, roflags, _, errno = s.sockRecv(fd, bufs, riflags, false)
	return n, roflags, errno
}

// SenderFamily is the family of the sender addresses SockRecvFrom returns
// on fd: the socket's own for a datagram socket (IPv4-mapped addresses
// included, an IPv6 socket's senders are all IPv6), AFUnspec when it
// returns none (a stream socket) or fd is not a socket.
func (s *System) SenderFamily(fd int32) Family {
	f, errno := s.lookupSocket(fd, 0)
	if errno != 0 || f.Sock.Type != SockDgram {
		return AFUnspec
	}
	return f.Sock.Family
}

func buffersLen(bufs [][]byte) int {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n
}

// SockSend writes bufs to fd. Errors: EBADF, ENOTSOCK, ENOTCAPABLE (no
// FD_WRITE), EAGAIN, EPIPE, ECONNRESET. POSIX: sendmsg with MSG_NOSIGNAL
// (a broken connection is EPIPE, never a signal).
func (s *System) SockSend(fd int32, bufs [][]byte, siflags uint16) (uint32, Errno) {
	return s.sockSend(fd, bufs, nil)
}

// SockShutdown shuts down the read side (ShutRD), write side (ShutWR) or both
// of fd. Errors: EBADF, ENOTSOCK, ENOTCAPABLE (no SOCK_SHUTDOWN), EINVAL (bad
// how), ENOTCONN. POSIX: shutdown.
func (s *System) SockShutdown(fd int32, how uint8) Errno {
	f, errno := s.lookupSocket(fd, RightSockShutdown)
	if errno != 0 {
		return errno
	}
	var h int
	switch how {
	case ShutRD:
		h = shutRD
	case ShutWR:
		h = shutWR
	case ShutRD | ShutWR:
		h = shutRDWR
	default:
		return EINVAL
	}
	return ErrnoFromError(f.shutdown(h))
}

// boundIP is the IP address f is bound to (getsockname).
func (s *System) boundIP(f *File) (netip.Addr, Errno) {
	a, errno := s.localAddr(f)
	return a.IP, errno
}
