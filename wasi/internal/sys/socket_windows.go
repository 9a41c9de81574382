package sys

import (
	"net/netip"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Sockets on Windows: Winsock sockets, in File.Fd, created blocking and
// not inheritable, as on Linux; fd_fdstat_set_flags(NONBLOCK) sets FIONBIO
// on the host socket, and then the calls return EAGAIN or EINPROGRESS as
// they would on Linux. IPv6 sockets are dual-stack (IPV6_V6ONLY off), as
// Linux makes them. The egress policy is applied as on Linux
// (sockcalls.go).
//
// Simulated isolation (System.VPorts) works as on macOS (vports_sock.go).
// Not on Windows (yet): Unix sockets (EAFNOSUPPORT), Outside (no network
// namespaces),
// System.ReusePort (Windows has no SO_REUSEPORT: a second bind of a port
// is EADDRINUSE).

// Winsock constants x/sys/windows lacks.
const (
	wsaFlagNoHandleInherit = 0x80
	ipv6V6only             = 27
	msgPeek                = 0x2
	msgWaitall             = 0x8
)

// SockOpen creates a socket and returns its guest descriptor.
// Errors: EAFNOSUPPORT for an unknown family or AFUnix, EPROTOTYPE for an
// unknown type, EMFILE and Winsock's errors otherwise. POSIX: socket.
func (s *System) SockOpen(af Family, st SockType) (int32, Errno) {
	var domain int32
	switch af {
	case AFInet4:
		domain = windows.AF_INET
	case AFInet6:
		domain = windows.AF_INET6
	default:
		return -1, EAFNOSUPPORT
	}
	var typ int32
	switch st {
	case SockAny, SockStream:
		st, typ = SockStream, windows.SOCK_STREAM
	case SockDgram:
		typ = windows.SOCK_DGRAM
	default:
		return -1, EPROTOTYPE
	}
	h, err := windows.WSASocket(domain, typ, 0, nil, 0, wsaFlagNoHandleInherit)
	if err != nil {
		return -1, ErrnoFromError(err)
	}
	if af == AFInet6 {
		if err := windows.SetsockoptInt(h, windows.IPPROTO_IPV6, ipv6V6only, 0); err != nil {
			windows.Closesocket(h)
			return -1, ErrnoFromError(err)
		}
	}
	sock := &Socket{Family: af, Type: st, fresh: true}
	if s.VPorts != nil && !s.VPorts.take(sock) {
		windows.Closesocket(h)
		return -1, ENOBUFS // as a socket table that is full
	}
	return s.insertSocket(h, sock, 0), ESUCCESS
}

func (s *System) insertSocket(h windows.Handle, sock *Socket, flags Fdflags) int32 {
	t := sock.filetype()
	base, inh := MaxRights(t)
	return s.FDs.Insert(&File{Fd: int(h), Type: t, Flags: flags, RightsBase: base, RightsInheriting: inh, Sock: sock})
}

// handle is f's host socket.
func (f *File) handle() windows.Handle { return windows.Handle(f.Fd) }

func (s *System) sockBind(fd int32, a Addr) Errno {
	f, errno := s.lookupSocket(fd, 0)
	if errno != 0 {
		return errno
	}
	if s.VPorts != nil {
		return s.bindVirtual(f, a)
	}
	if errno := f.bindHost(a); errno != 0 {
		return errno
	}
	f.Sock.fresh = f.Sock.fresh && a.Port == 0 && a.IP.Unmap().IsUnspecified()
	return ESUCCESS
}

func (s *System) sockListen(fd int32, backlog int32) Errno {
	f, errno := s.lookupSocket(fd, 0)
	if errno != 0 {
		return errno
	}
	return ErrnoFromError(windows.Listen(f.handle(), int(max(backlog, 0))))
}

func (s *System) sockAccept(fd int32, flags Fdflags) (int32, Errno) {
	f, errno := s.lookupSocket(fd, RightSockAccept)
	if errno != 0 {
		return -1, errno
	}
	f.edgeAccept()
	r, _, err := procAccept.Call(uintptr(f.handle()), 0, 0)
	h := windows.Handle(r)
	if h == windows.InvalidHandle {
		return -1, ErrnoFromError(err)
	}
	// An accepted socket inherits the listener's FIONBIO; the guest's
	// flags decide.
	var on uint32
	if flags&FdflagNonblock != 0 {
		on = 1
	}
	if err := ioctlsocket(h, fionbio, &on); err != nil {
		windows.Closesocket(h)
		return -1, ErrnoFromError(err)
	}
	sock := &Socket{Family: f.Sock.Family, Type: SockStream}
	return s.insertSocket(h, sock, flags&FdflagNonblock), ESUCCESS
}

func (s *System) sockConnect(fd int32, a Addr) (*File, Errno, string) {
	f, errno := s.lookupSocket(fd, 0)
	if errno != 0 {
		return nil, errno, ""
	}
	if errno := s.checkEgress(f, a.IP, a.Port); errno != 0 {
		why := ""
		if errno == EPERM {
			why = whyEgress
		}
		return f, errno, why
	}
	var why string
	if a, errno, why = s.virtualDest(f, a); errno != 0 {
		return f, errno, why
	}
	sa, errno := inetSockaddr(f.Sock.Family, a)
	if errno != 0 {
		return f, errno, ""
	}
	f.edgeConnect()
	err := windows.Connect(f.handle(), sa)
	switch err {
	case windows.WSAEWOULDBLOCK:
		return f, EINPROGRESS, ""
	case windows.WSAEINVAL:
		// What Winsock may answer a second connect while the first is
		// still in progress.
		if f.Flags&FdflagNonblock != 0 {
			return f, EALREADY, ""
		}
	}
	return f, ErrnoFromError(err), ""
}

// bindHost binds f's host socket to a.
func (f *File) bindHost(a Addr) Errno {
	sa, errno := inetSockaddr(f.Sock.Family, a)
	if errno != 0 {
		return errno
	}
	return ErrnoFromError(windows.Bind(f.handle(), sa))
}

// v6only reports whether f, an IPv6 socket, is IPv6 only (IPV6_V6ONLY).
func (f *File) v6only() (bool, Errno) {
	v, err := windows.GetsockoptInt(f.handle(), windows.IPPROTO_IPV6, ipv6V6only)
	return v != 0, ErrnoFromError(err)
}

// inetSockaddr converts a to a host address for a socket of family af. An
// IPv4 address on an IPv6 socket becomes IPv4-mapped, as Go does.
func inetSockaddr(af Family, a Addr) (windows.Sockaddr, Errno) {
	is4, errno := inetForm(af, a)
	switch {
	case errno != 0:
		return nil, errno
	case is4:
		return &windows.SockaddrInet4{Port: int(a.Port), Addr: a.IP.As4()}, ESUCCESS
	}
	return &windows.SockaddrInet6{Port: int(a.Port), Addr: a.IP.As16()}, ESUCCESS
}

// guestAddr converts a host address to what the guest sees.
func guestAddr(sa windows.Sockaddr) Addr {
	switch sa := sa.(type) {
	case *windows.SockaddrInet4:
		return Addr{Family: AFInet4, IP: netip.AddrFrom4(sa.Addr), Port: uint16(sa.Port)}
	case *windows.SockaddrInet6:
		return Addr{Family: AFInet6, IP: netip.AddrFrom16(sa.Addr), Port: uint16(sa.Port)}
	}
	return Addr{}
}

// SockRecvFrom is SockRecv that also returns the sender's address (the zero
// Addr when the socket is connected-stream).
func (s *System) SockRecvFrom(fd int32, bufs [][]byte, riflags uint16) (n uint32, roflags uint16, from Addr, errno Errno) {
	n, roflags, from, errno = s.sockRecv(fd, bufs, riflags, true)
	if s.VPorts != nil && errno == 0 {
		from = s.senderVirtual(fd, from)
	}
	return n, roflags, from, errno
}

// wsaBufs points the System's scratch WSABUFs at bufs.
func (s *System) wsaBufs(bufs [][]byte) []windows.WSABuf {
	iov := s.iov[:0]
	for _, b := range bufs {
		if len(b) > 0 {
			iov = append(iov, windows.WSABuf{Len: uint32(len(b)), Buf: &b[0]})
		}
	}
	if len(iov) == 0 {
		var none byte
		iov = append(iov, windows.WSABuf{Buf: &none})
	}
	s.iov = iov
	return iov
}

// doneBufs drops the scratch WSABUFs' pointers into guest memory.
func (s *System) doneBufs() {
	clear(s.iov)
	s.iov = s.iov[:0]
}

func (s *System) sockRecv(fd int32, bufs [][]byte, riflags uint16, wantFrom bool) (uint32, uint16, Addr, Errno) {
	f, errno := s.lookupSocket(fd, RightFdRead)
	if errno != 0 {
		return 0, 0, Addr{}, errno
	}
	if riflags&^(RiflagRecvPeek|RiflagRecvWaitall|RiflagDontWait) != 0 {
		return 0, 0, Addr{}, EINVAL
	}
	if riflags&RiflagDontWait != 0 && f.Flags&FdflagNonblock == 0 {
		// Winsock has no MSG_DONTWAIT: a blocking socket is asked first.
		set := []wsaPollFd{{fd: uintptr(f.Fd), events: PollIn}}
		if n, err := wsaPoll(set, 0); err != nil {
			return 0, 0, Addr{}, ErrnoFromError(err)
		} else if n == 0 {
			f.edgeRead(0, EAGAIN)
			return 0, 0, Addr{}, EAGAIN
		}
	}
	var flags uint32
	if riflags&RiflagRecvPeek != 0 {
		flags |= msgPeek
	}
	if riflags&RiflagRecvWaitall != 0 {
		flags |= msgWaitall
	}
	iov := s.wsaBufs(bufs)
	defer s.doneBufs()
	var n uint32
	var err error
	var from windows.RawSockaddrAny
	if wantFrom && f.Sock.Type == SockDgram {
		fromLen := int32(unsafe.Sizeof(from))
		err = windows.WSARecvFrom(f.handle(), &iov[0], uint32(len(iov)), &n, &flags, &from, &fromLen, nil, nil)
	} else {
		err = windows.WSARecv(f.handle(), &iov[0], uint32(len(iov)), &n, &flags, nil, nil)
	}
	if f.edge != nil && (riflags&RiflagRecvPeek == 0 || err != nil) {
		took, errno := int(n), ErrnoFromError(err)
		if err == windows.WSAEMSGSIZE || err == windows.WSAESHUTDOWN {
			errno = ESUCCESS
		}
		f.edgeRead(took, errno) // a peek takes nothing
	}
	var roflags uint16
	switch {
	case err == windows.WSAEMSGSIZE && f.Sock.Type == SockDgram:
		roflags |= RoflagDataTrunc
		n = uint32(buffersLen(bufs))
	case err == windows.WSAESHUTDOWN:
		return 0, 0, Addr{}, ESUCCESS // read side shut down: end of stream
	case err != nil:
		return 0, 0, Addr{}, ErrnoFromError(err)
	}
	var addr Addr
	if wantFrom && f.Sock.Type == SockDgram {
		if sa, err := from.Sockaddr(); err == nil {
			addr = guestAddr(sa)
		}
	}
	return n, roflags, addr, ESUCCESS
}

// SockSendTo sends bufs to a (for datagram sockets). Errors: as SockSend,
// plus EAFNOSUPPORT, EDESTADDRREQ, EMSGSIZE, EPERM (the egress policy
// denies where a leads, see checkEgress). POSIX: sendto.
func (s *System) SockSendTo(fd int32, bufs [][]byte, a Addr, siflags uint16) (uint32, Errno) {
	f, errno := s.lookupSocket(fd, 0)
	if errno != 0 {
		return 0, errno
	}
	if errno := s.checkEgress(f, a.IP, a.Port); errno != 0 {
		return 0, errno
	}
	if a, errno, _ = s.virtualDest(f, a); errno != 0 {
		return 0, errno
	}
	sa, errno := inetSockaddr(f.Sock.Family, a)
	if errno != 0 {
		return 0, errno
	}
	return s.sockSend(fd, bufs, sa)
}

func (s *System) sockSend(fd int32, bufs [][]byte, to windows.Sockaddr) (uint32, Errno) {
	f, errno := s.lookupSocket(fd, RightFdWrite)
	if errno != 0 {
		return 0, errno
	}
	iov := s.wsaBufs(bufs)
	defer s.doneBufs()
	var n uint32
	var err error
	if to == nil {
		err = windows.WSASend(f.handle(), &iov[0], uint32(len(iov)), &n, 0, nil, nil)
	} else {
		err = windows.WSASendto(f.handle(), &iov[0], uint32(len(iov)), &n, 0, to, nil, nil)
	}
	if err == windows.WSAESHUTDOWN {
		return 0, EPIPE
	}
	if f.edge != nil {
		f.edgeWrite(int(n), buffersLen(bufs), ErrnoFromError(err))
	}
	return n, ErrnoFromError(err)
}

// SockLocalAddr returns the address fd is bound to: the unspecified
// address and port 0 before a bind, as on Linux. Errors: EBADF, ENOTSOCK.
// POSIX: getsockname.
func (s *System) SockLocalAddr(fd int32) (Addr, Errno) {
	f, errno := s.lookupSocket(fd, 0)
	if errno != 0 {
		return Addr{}, errno
	}
	a, errno := s.localAddr(f)
	if errno != 0 {
		return Addr{}, errno
	}
	return s.localVirtual(f, a), ESUCCESS
}

func (s *System) localAddr(f *File) (Addr, Errno) {
	sa, err := windows.Getsockname(f.handle())
	if err == windows.WSAEINVAL {
		// Not bound yet: Linux answers the unspecified address.
		ip := netip.IPv4Unspecified()
		if f.Sock.Family == AFInet6 {
			ip = netip.IPv6Unspecified()
		}
		return Addr{Family: f.Sock.Family, IP: ip}, ESUCCESS
	}
	if err != nil {
		return Addr{}, ErrnoFromError(err)
	}
	return guestAddr(sa), ESUCCESS
}

// SockPeerAddr returns the address fd is connected to. Errors: EBADF,
// ENOTSOCK, ENOTCONN. POSIX: getpeername.
func (s *System) SockPeerAddr(fd int32) (Addr, Errno) {
	f, errno := s.lookupSocket(fd, 0)
	if errno != 0 {
		return Addr{}, errno
	}
	sa, err := windows.Getpeername(f.handle())
	if err != nil {
		return Addr{}, ErrnoFromError(err)
	}
	return s.peerVirtual(f, guestAddr(sa)), ESUCCESS
}

// InsertListeners gives the guest the host's listening sockets, in
// order, at the lowest free descriptors (right after the preopened
// directories when called after New). Each file's descriptor must be a
// Winsock socket (os.NewFile of a SOCKET: Go cannot hand out a
// net.Listener's socket as a file on Windows). It is duplicated
// (WSADuplicateSocket, not inheritable) and made blocking; the caller
// keeps its files. The guest sees a blocking socket it may accept on.
func (s *System) InsertListeners(files []*os.File) error {
	for _, l := range files {
		var info windows.WSAProtocolInfo
		if err := windows.WSADuplicateSocket(windows.Handle(l.Fd()), windows.GetCurrentProcessId(), &info); err != nil {
			return &os.SyscallError{Syscall: "WSADuplicateSocket " + l.Name(), Err: err}
		}
		h, err := socketFromInfo(&info)
		if err != nil {
			return &os.SyscallError{Syscall: "WSASocket " + l.Name(), Err: err}
		}
		off := uint32(0)
		if err := ioctlsocket(h, fionbio, &off); err != nil {
			windows.Closesocket(h)
			return &os.SyscallError{Syscall: "set blocking on " + l.Name(), Err: err}
		}
		sock := &Socket{Family: AFInet4, Type: SockStream}
		if info.AddressFamily == windows.AF_INET6 {
			sock.Family = AFInet6
		}
		if info.SocketType == windows.SOCK_DGRAM {
			sock.Type = SockDgram
		}
		s.insertSocket(h, sock, 0)
	}
	return nil
}

// hasPeer reports whether f's socket is connected.
func (f *File) hasPeer() bool {
	_, err := windows.Getpeername(f.handle())
	return err == nil
}

// Winsock's shutdown directions.
const (
	shutRD   = windows.SHUT_RD
	shutWR   = windows.SHUT_WR
	shutRDWR = windows.SHUT_RDWR
)

func (f *File) shutdown(how int) error { return windows.Shutdown(f.handle(), how) }

// dupSocket duplicates socket h for this process (not inheritable).
func dupSocket(h windows.Handle) (windows.Handle, error) {
	var info windows.WSAProtocolInfo
	if err := windows.WSADuplicateSocket(h, windows.GetCurrentProcessId(), &info); err != nil {
		return 0, err
	}
	return socketFromInfo(&info)
}

// socketFromInfo makes the socket WSADuplicateSocket described.
func socketFromInfo(info *windows.WSAProtocolInfo) (windows.Handle, error) {
	const fromProtocolInfo = -1
	return windows.WSASocket(fromProtocolInfo, fromProtocolInfo, fromProtocolInfo, info, 0, wsaFlagNoHandleInherit)
}
