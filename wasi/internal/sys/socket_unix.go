//go:build linux || darwin

package sys

import (
	"fmt"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// Sockets, in the guest's fd table next to files. A socket is a File with
// Type FiletypeSocketStream or FiletypeSocketDgram and Sock set; fd_read,
// fd_write and fd_close work on it like on any other descriptor.
//
// Blocking: every host socket is created blocking (and close-on-exec), as the
// guest expects a fresh socket to be. A blocking accept, connect, recv or send
// sleeps in the kernel on the thread running the guest, which is fine since a
// WASI guest is single-threaded. fd_fdstat_set_flags(NONBLOCK) on a socket sets
// the host's O_NONBLOCK (sockets are never shared with other processes, so the
// real flag is safe to change), and then these calls return EAGAIN or
// EINPROGRESS as they would natively.

// SockOpen creates a socket and returns its guest descriptor.
// Errors: EAFNOSUPPORT for an unknown family, EPROTOTYPE for an unknown type,
// EMFILE/ENFILE and the host's errors otherwise. POSIX: socket.
func (s *System) SockOpen(af Family, st SockType) (int32, Errno) {
	domain, errno := hostFamily(af)
	if errno != 0 {
		return -1, errno
	}
	var typ int
	switch st {
	case SockAny, SockStream:
		// Like WasmEdge, "any" is a stream socket.
		st, typ = SockStream, unix.SOCK_STREAM
	case SockDgram:
		typ = unix.SOCK_DGRAM
	default:
		return -1, EPROTOTYPE
	}
	fd, err := socketCloexec(domain, typ)
	if err != nil {
		return -1, ErrnoFromError(err)
	}
	sock := &Socket{Family: af, Type: st, fresh: true}
	if s.VPorts != nil && af != AFUnix && !s.VPorts.take(sock) {
		unix.Close(fd)
		return -1, ENOBUFS // as a socket table that is full
	}
	return s.insertSocket(fd, sock, 0), ESUCCESS
}

func (s *System) insertSocket(fd int, sock *Socket, flags Fdflags) int32 {
	t := sock.filetype()
	base, inh := MaxRights(t)
	return s.FDs.Insert(&File{Fd: fd, Type: t, Flags: flags, RightsBase: base, RightsInheriting: inh, Sock: sock})
}

// hostSocket describes a socket the guest was given rather than opened
// (stdio, a preopened listener) as the host reports it. Every socket the
// guest holds is a File with Sock set, however it got it, so each call
// recognises sockets the same way.
func hostSocket(fd int) (*Socket, error) {
	st, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return nil, &os.SyscallError{Syscall: "getsockopt SO_TYPE", Err: err}
	}
	sock := &Socket{Family: socketFamily(fd), Type: SockStream}
	if st == unix.SOCK_DGRAM {
		sock.Type = SockDgram
	}
	return sock, nil
}

func hostFamily(af Family) (int, Errno) {
	switch af {
	case AFInet4:
		return unix.AF_INET, ESUCCESS
	case AFInet6:
		return unix.AF_INET6, ESUCCESS
	case AFUnix:
		return unix.AF_UNIX, ESUCCESS
	}
	return 0, EAFNOSUPPORT
}

func (s *System) sockBind(fd int32, a Addr) Errno {
	f, errno := s.lookupSocket(fd, 0)
	if errno != 0 {
		return errno
	}
	if f.Sock.Family == AFUnix {
		if a.Family != AFUnix {
			return EAFNOSUPPORT
		}
		sa, closeDir, errno := s.unixSockaddr(a.Path, false)
		if errno != 0 {
			return errno
		}
		defer closeDir()
		if err := unix.Bind(f.Fd, sa); err != nil {
			return ErrnoFromError(err)
		}
		f.Sock.LocalPath, f.Sock.hostPath = a.Path, sa.Name
		return ESUCCESS
	}
	if f.Sock.outside {
		// A host socket (moveOutside): its ports are the host's, which a
		// guest would take from the host's own services. It is bound
		// already, as a socket that connected or sent is (EINVAL).
		return EINVAL
	}
	if s.VPorts != nil {
		return s.bindVirtual(f, a)
	}
	sa, errno := inetSockaddr(f.Sock.Family, a)
	if errno != 0 {
		return errno
	}
	if s.ReusePort && a.Port != 0 {
		if err := unix.SetsockoptInt(f.Fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return ErrnoFromError(err)
		}
	}
	if err := unix.Bind(f.Fd, sa); err != nil {
		return ErrnoFromError(err)
	}
	// Any address, any port: a client's habit (Node binds before every
	// UDP send), which does not keep a socket in its namespace.
	f.Sock.fresh = f.Sock.fresh && a.Port == 0 && a.IP.Unmap().IsUnspecified()
	return ESUCCESS
}

func (s *System) sockListen(fd int32, backlog int32) Errno {
	f, errno := s.lookupSocket(fd, 0)
	if errno != 0 {
		return errno
	}
	if backlog < 0 {
		backlog = 0
	}
	if errno := s.listenVirtual(f); errno != 0 {
		return errno
	}
	return ErrnoFromError(unix.Listen(f.Fd, int(backlog)))
}

func (s *System) sockAccept(fd int32, flags Fdflags) (int32, Errno) {
	f, errno := s.lookupSocket(fd, RightSockAccept)
	if errno != 0 {
		return -1, errno
	}
	f.edgeAccept()
	if errno := f.wouldBlock(unix.POLLIN); errno != 0 {
		return -1, errno // non-blocking for the guest on a shared socket
	}
	var nfd int
	var err error
	for {
		nfd, err = accept(f.Fd, flags&FdflagNonblock != 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return -1, ErrnoFromError(err)
	}
	sock := &Socket{Family: f.Sock.Family, Type: SockStream, LocalPath: f.Sock.LocalPath}
	return s.insertSocket(nfd, sock, flags&FdflagNonblock), ESUCCESS
}

// socketFamily asks the host for the family of a socket the guest did not
// open (AFUnspec for one no socket call can use, e.g. AF_NETLINK).
func socketFamily(fd int) Family {
	d, err := sockDomain(fd)
	if err != nil {
		return AFUnspec
	}
	switch d {
	case unix.AF_INET:
		return AFInet4
	case unix.AF_INET6:
		return AFInet6
	case unix.AF_UNIX:
		return AFUnix
	}
	return AFUnspec
}

// sockConnect is SockConnect; it also returns the socket (nil when fd is
// none) and why the host refused, if it did.
func (s *System) sockConnect(fd int32, a Addr) (*File, Errno, string) {
	f, errno := s.lookupSocket(fd, 0)
	if errno != 0 {
		return nil, errno, ""
	}
	var sa unix.Sockaddr
	if f.Sock.Family == AFUnix {
		if a.Family != AFUnix {
			return f, EAFNOSUPPORT, ""
		}
		usa, closeTarget, errno := s.unixSockaddr(a.Path, true)
		if errno != 0 {
			return f, errno, ""
		}
		defer closeTarget()
		sa = usa
	} else {
		if errno := s.checkEgress(f, a.IP, a.Port); errno != 0 {
			why := ""
			if errno == EPERM {
				why = whyEgress
			}
			return f, errno, why
		}
		if errno := s.routeOutside(f, a); errno != 0 {
			why := ""
			if errno == EHOSTUNREACH {
				why = whyIsolated
			}
			return f, errno, why
		}
		var why string
		if a, errno, why = s.virtualDest(f, a); errno != 0 {
			return f, errno, why
		}
		if sa, errno = inetSockaddr(f.Sock.Family, a); errno != 0 {
			return f, errno, ""
		}
		if s.VPorts != nil && f.Sock.Type == SockDgram {
			f.Sock.sentTo.Add(a.AddrPort()) // its peer, which it hears
		}
		if f.Sock.relay {
			// What the kernel keeps of a connected datagram socket: its
			// peer, for send and to filter what it receives.
			f.Sock.peer = &a
			return f, ESUCCESS, ""
		}
	}
	f.edgeConnect()
	err := unix.Connect(f.Fd, sa)
	if err == unix.EINTR {
		// The connection goes on in the background (POSIX); wait for it
		// like a blocking connect would.
		err = waitConnected(f.Fd)
	}
	if f.Sock.handed {
		// A host socket that came connecting to a (moveOutside): this
		// connect is the guest's first, and reports as one would.
		f.Sock.handed = false
		switch err {
		case unix.EALREADY:
			err = unix.EINPROGRESS
		case unix.EISCONN:
			err = nil
		}
	}
	if a.Family == AFUnix && (err == nil || err == unix.EINPROGRESS) {
		f.Sock.PeerPath = a.Path
	}
	return f, ErrnoFromError(err), ""
}

// localAddr is the address f is bound to (getsockname), as the guest
// sees it.
func (s *System) localAddr(f *File) (Addr, Errno) {
	if f.Sock.relay {
		return f.Sock.relayLocal, ESUCCESS
	}
	sa, err := unix.Getsockname(f.Fd)
	if err != nil {
		return Addr{}, ErrnoFromError(err)
	}
	return s.guestAddr(sa), ESUCCESS
}

// bindHost binds f's host socket to a.
func (f *File) bindHost(a Addr) Errno {
	sa, errno := inetSockaddr(f.Sock.Family, a)
	if errno != 0 {
		return errno
	}
	return ErrnoFromError(unix.Bind(f.Fd, sa))
}

// v6only reports whether f, an IPv6 socket, is IPv6 only (IPV6_V6ONLY).
func (f *File) v6only() (bool, Errno) {
	v, err := unix.GetsockoptInt(f.Fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
	return v != 0, ErrnoFromError(err)
}

// waitConnected waits for a connect interrupted by a signal to finish.
func waitConnected(fd int) error {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	for {
		_, err := unix.Poll(pfd, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			return err
		}
		if v != 0 {
			return unix.Errno(v)
		}
		return nil
	}
}

// inetSockaddr converts a to a host address for a socket of family af. An
// IPv4 address on an IPv6 socket becomes IPv4-mapped, as Go does.
func inetSockaddr(af Family, a Addr) (unix.Sockaddr, Errno) {
	is4, errno := inetForm(af, a)
	switch {
	case errno != 0:
		return nil, errno
	case is4:
		return &unix.SockaddrInet4{Port: int(a.Port), Addr: a.IP.As4()}, ESUCCESS
	}
	return &unix.SockaddrInet6{Port: int(a.Port), Addr: a.IP.As16()}, ESUCCESS
}

// SockRecvFrom is SockRecv that also returns the sender's address (the zero
// Addr when the socket is connected-stream or the sender is unnamed).
func (s *System) SockRecvFrom(fd int32, bufs [][]byte, riflags uint16) (n uint32, roflags uint16, from Addr, errno Errno) {
	n, roflags, from, errno = s.sockRecv(fd, bufs, riflags, true)
	if s.VPorts != nil && errno == 0 {
		from = s.senderVirtual(fd, from)
	}
	return n, roflags, from, errno
}

// hearsPeersOnly reports whether f is a datagram socket under simulated
// isolation that the guest did not bind to a port of its own: a host
// socket on every host address, which hears only the destinations it
// sent to or connected to, as behind a NAT (the host's loopback, the LAN
// or another app could otherwise send it anything).
func (s *System) hearsPeersOnly(f *File) bool {
	return s.VPorts != nil && f.Type == FiletypeSocketDgram && f.Sock != nil && !f.Sock.relay && s.VPorts.unbound(f.Sock)
}

// recvFromPeer is recvmsg(2) of f with flags, dropping the datagrams of
// senders f did not send to (a peeked one is taken off the queue).
func (s *System) recvFromPeer(f *File, bufs [][]byte, flags int) (n, rflags int, from unix.Sockaddr, err error) {
	for {
		n, _, rflags, from, err = unix.RecvmsgBuffers(f.Fd, bufs, nil, flags)
		if err != nil || f.Sock.sentTo.Has(s.guestAddr(from).AddrPort()) {
			return n, rflags, from, err
		}
		if flags&unix.MSG_PEEK != 0 {
			unix.RecvmsgBuffers(f.Fd, [][]byte{nil}, nil, flags&^unix.MSG_PEEK)
		}
	}
}

func (s *System) sockRecv(fd int32, bufs [][]byte, riflags uint16, wantFrom bool) (uint32, uint16, Addr, Errno) {
	f, errno := s.lookupSocket(fd, RightFdRead)
	if errno != 0 {
		return 0, 0, Addr{}, errno
	}
	if riflags&^(RiflagRecvPeek|RiflagRecvWaitall|RiflagDontWait) != 0 {
		return 0, 0, Addr{}, EINVAL
	}
	flags := 0
	if riflags&RiflagDontWait != 0 {
		flags |= unix.MSG_DONTWAIT
	}
	if riflags&RiflagRecvPeek != 0 {
		flags |= unix.MSG_PEEK
	}
	if riflags&RiflagRecvWaitall != 0 {
		flags |= unix.MSG_WAITALL
	}
	if f.Type == FiletypeSocketDgram {
		// Report truncation with the real datagram length.
		flags |= unix.MSG_TRUNC
	}
	var (
		n, rflags int
		from      unix.Sockaddr
		err       error
	)
	var relayFrom Addr
	// Under simulated isolation, a datagram socket the guest did not bind
	// to a port of its own is a host socket on every host address: it
	// hears only the destinations it sent to, as behind a NAT (the host's
	// loopback, the LAN, another app could otherwise send it anything).
	for {
		switch {
		case f.Sock.relay:
			n, rflags, relayFrom, err = s.relayRecv(f, bufs, flags)
		case s.hearsPeersOnly(f):
			n, rflags, from, err = s.recvFromPeer(f, bufs, flags)
		case wantFrom:
			n, _, rflags, from, err = unix.RecvmsgBuffers(f.Fd, bufs, nil, flags)
		default:
			n, rflags, err = s.msg(unix.SYS_RECVMSG, f, bufs, flags)
		}
		if err != unix.EINTR {
			break
		}
	}
	if f.edge != nil && (flags&unix.MSG_PEEK == 0 || err != nil) {
		f.edgeRead(n, ErrnoFromError(err)) // a peek takes nothing
	}
	if err != nil {
		return 0, 0, Addr{}, ErrnoFromError(err)
	}
	var roflags uint16
	if rflags&unix.MSG_TRUNC != 0 {
		roflags |= RoflagDataTrunc
		if total := buffersLen(bufs); n > total {
			n = total
		}
	}
	var addr Addr
	switch {
	case f.Sock.relay:
		addr = relayFrom
	case wantFrom:
		addr = s.guestAddr(from)
	}
	return uint32(n), roflags, addr, ESUCCESS
}

// SockSendTo sends bufs to a (for datagram sockets; connected-mode sockets
// ignore or reject the address as the host does). Errors: as SockSend, plus
// EAFNOSUPPORT, EDESTADDRREQ, EMSGSIZE, ENOTCAPABLE (Unix path outside every
// preopen), EPERM (the egress policy denies where a leads, see
// checkEgress). POSIX: sendto.
func (s *System) SockSendTo(fd int32, bufs [][]byte, a Addr, siflags uint16) (uint32, Errno) {
	f, errno := s.lookupSocket(fd, 0)
	if errno != 0 {
		return 0, errno
	}
	if f.Sock.Family == AFUnix {
		if a.Family != AFUnix {
			return 0, EAFNOSUPPORT
		}
		sa, closeTarget, errno := s.unixSockaddr(a.Path, true)
		if errno != 0 {
			return 0, errno
		}
		defer closeTarget()
		return s.sockSend(fd, bufs, sa)
	}
	if errno := s.checkEgress(f, a.IP, a.Port); errno != 0 {
		return 0, errno
	}
	if errno := s.routeOutside(f, a); errno != 0 {
		return 0, errno
	}
	if a, errno, _ = s.virtualDest(f, a); errno != 0 {
		return 0, errno
	}
	sa, errno := inetSockaddr(f.Sock.Family, a)
	if errno != 0 {
		return 0, errno
	}
	if s.VPorts != nil && f.Sock.Type == SockDgram {
		f.Sock.sentTo.Add(a.AddrPort())
	}
	if f.Sock.relay {
		if f, errno = s.lookupSocket(fd, RightFdWrite); errno != 0 {
			return 0, errno
		}
		return s.relaySend(f, bufs, &a, sendFlags(f))
	}
	return s.sockSend(fd, bufs, sa)
}

// sendFlags are the flags of a send on f: MSG_NOSIGNAL, and MSG_DONTWAIT
// when the guest made f non-blocking (also when the host's description is
// blocking, a shared socket on stdio, see SetFlags: the guest asked not to
// wait).
func sendFlags(f *File) int {
	if f.Flags&FdflagNonblock != 0 {
		return unix.MSG_NOSIGNAL | unix.MSG_DONTWAIT
	}
	return unix.MSG_NOSIGNAL
}

func (s *System) sockSend(fd int32, bufs [][]byte, to unix.Sockaddr) (uint32, Errno) {
	f, errno := s.lookupSocket(fd, RightFdWrite)
	if errno != 0 {
		return 0, errno
	}
	flags := sendFlags(f)
	if f.Sock.relay {
		return s.relaySend(f, bufs, nil, flags)
	}
	for {
		var n int
		var err error
		if to == nil {
			n, _, err = s.msg(unix.SYS_SENDMSG, f, bufs, flags)
		} else {
			n, err = unix.SendmsgBuffers(f.Fd, bufs, nil, to, flags)
		}
		if err == unix.EINTR {
			continue
		}
		if f.edge != nil {
			f.edgeWrite(n, buffersLen(bufs), ErrnoFromError(err))
		}
		if err != nil {
			return 0, ErrnoFromError(err)
		}
		return uint32(n), ESUCCESS
	}
}

// SockLocalAddr returns the address fd is bound to. Errors: EBADF, ENOTSOCK.
// POSIX: getsockname.
func (s *System) SockLocalAddr(fd int32) (Addr, Errno) {
	f, errno := s.lookupSocket(fd, 0)
	if errno != 0 {
		return Addr{}, errno
	}
	if f.Sock.Family == AFUnix {
		return Addr{Family: AFUnix, Path: f.Sock.LocalPath}, ESUCCESS
	}
	a, errno := s.localAddr(f)
	if errno != 0 {
		return Addr{}, errno
	}
	return s.localVirtual(f, a), ESUCCESS
}

// SockPeerAddr returns the address fd is connected to. Errors: EBADF,
// ENOTSOCK, ENOTCONN. POSIX: getpeername.
func (s *System) SockPeerAddr(fd int32) (Addr, Errno) {
	f, errno := s.lookupSocket(fd, 0)
	if errno != 0 {
		return Addr{}, errno
	}
	if f.Sock.relay {
		if f.Sock.peer == nil {
			return Addr{}, ENOTCONN
		}
		return *f.Sock.peer, ESUCCESS
	}
	sa, err := unix.Getpeername(f.Fd)
	if err != nil {
		return Addr{}, ErrnoFromError(err)
	}
	if f.Sock.Family == AFUnix {
		if f.Sock.PeerPath != "" {
			return Addr{Family: AFUnix, Path: f.Sock.PeerPath}, ESUCCESS
		}
	}
	return s.peerVirtual(f, s.guestAddr(sa)), ESUCCESS
}

// guestAddr converts a host address to what the guest sees. A Unix path the
// guest bound through /proc/self/fd is reported under its guest name; other
// host paths are reported as unnamed, so host paths never leak.
func (s *System) guestAddr(sa unix.Sockaddr) Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return Addr{Family: AFInet4, IP: netip.AddrFrom4(sa.Addr), Port: uint16(sa.Port)}
	case *unix.SockaddrInet6:
		return Addr{Family: AFInet6, IP: netip.AddrFrom16(sa.Addr), Port: uint16(sa.Port)}
	case *unix.SockaddrUnix:
		a := Addr{Family: AFUnix}
		if sa.Name == "" {
			return a
		}
		s.FDs.Range(func(_ int32, f *File) bool {
			if f.Sock != nil && f.Sock.hostPath == sa.Name {
				a.Path = f.Sock.LocalPath
				return false
			}
			return true
		})
		if a.Path == "" {
			a.Path = s.guestPathOf(sa.Name)
		}
		return a
	}
	return Addr{}
}

// InsertListeners gives the guest the host's listening sockets, in order, at
// the lowest free descriptors (right after the preopened directories when
// called after New). Each is duplicated (close-on-exec); the caller keeps
// its files. The guest sees a blocking SOCKET_STREAM it may accept on.
func (s *System) InsertListeners(files []*os.File) error {
	for _, l := range files {
		fd, err := unix.FcntlInt(l.Fd(), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return &os.SyscallError{Syscall: "dup listener " + l.Name(), Err: err}
		}
		sock, err := hostSocket(fd)
		if err != nil {
			unix.Close(fd)
			return fmt.Errorf("listener %s: %w", l.Name(), err)
		}
		// The host's file may be non-blocking (Go sets O_NONBLOCK on its
		// own sockets); the guest expects a blocking socket.
		if err := unix.SetNonblock(fd, false); err != nil {
			unix.Close(fd)
			return &os.SyscallError{Syscall: "set blocking on " + l.Name(), Err: err}
		}
		s.insertSocket(fd, sock, 0)
	}
	return nil
}

// The host's shutdown directions.
const (
	shutRD   = unix.SHUT_RD
	shutWR   = unix.SHUT_WR
	shutRDWR = unix.SHUT_RDWR
)

func (f *File) shutdown(how int) error { return unix.Shutdown(f.Fd, how) }
