package wasi

import (
	"context"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// The WasmEdge socket extension (../shared/design/WASI-SOCKETS.md) and
// preview1's sock_* functions. Where the extension has V1 and V2 shapes, both
// are registered under the same name and selectFuncs binds whichever the
// guest imports, per function. Addresses are decoded in sock_addr.go,
// getaddrinfo in sock_getaddrinfo.go; the work is done by the sys layer.
//
// Every function checks its output pointers before acting, so a bad pointer
// is EFAULT and never loses a connection or a datagram.

func init() {
	register(
		newFunc("sock_open", sockOpen, "af", "socktype", "result.fd"),
		newFunc("sock_bind", sockBind, "fd", "addr", "port"),
		newFunc("sock_connect", sockConnect, "fd", "addr", "port"),
		newFunc("sock_listen", sockListen, "fd", "backlog"),
		// preview1's shape first: it is the default export.
		newFunc("sock_accept", sockAccept, "fd", "flags", "result.fd"),
		newFunc("sock_accept", sockAcceptV1, "fd", "result.fd"),
		newFunc("sock_accept_v2", sockAccept, "fd", "flags", "result.fd"),
		newFunc("sock_recv", sockRecv, "fd", "ri_data", "ri_data_len", "ri_flags", "result.ro_datalen", "result.ro_flags"),
		newFunc("sock_send", sockSend, "fd", "si_data", "si_data_len", "si_flags", "result.so_datalen"),
		newFunc("sock_recv_from", sockRecvFromV2, "fd", "ri_data", "ri_data_len", "addr", "ri_flags", "result.port", "result.ro_datalen", "result.ro_flags"),
		newFunc("sock_recv_from", sockRecvFromV1, "fd", "ri_data", "ri_data_len", "addr", "ri_flags", "result.ro_datalen", "result.ro_flags"),
		newFunc("sock_send_to", sockSendTo, "fd", "si_data", "si_data_len", "addr", "port", "si_flags", "result.so_datalen"),
		newFunc("sock_shutdown", sockShutdown, "fd", "how"),
		newFunc("sock_getsockopt", sockGetsockopt, "fd", "level", "name", "flag", "flag_size"),
		newFunc("sock_setsockopt", sockSetsockopt, "fd", "level", "name", "flag", "flag_size"),
		newFunc("sock_getlocaladdr", sockGetlocaladdrV2, "fd", "addr", "result.port"),
		newFunc("sock_getlocaladdr", sockGetlocaladdrV1, "fd", "addr", "result.addr_type", "result.port"),
		newFunc("sock_getlocaladdr_v2", sockGetlocaladdrV2, "fd", "addr", "result.port"),
		newFunc("sock_getpeeraddr", sockGetpeeraddrV2, "fd", "addr", "result.port"),
		newFunc("sock_getpeeraddr", sockGetpeeraddrV1, "fd", "addr", "result.addr_type", "result.port"),
		newFunc("sock_getpeeraddr_v2", sockGetpeeraddrV2, "fd", "addr", "result.port"),
	)
}

// waitSock waits, for a socket the guest has not made non-blocking, until
// the host says fd is ready for events, so that a guest blocked in
// sock_accept or sock_recv sleeps in ppoll where ctx can end it (the wasi
// call itself then blocks at most briefly in the kernel). When ctx is done
// the guest is ended as poll_oneoff ends it. Other failures are left to the
// call that follows. It reports whether the socket is a blocking one.
func (h *Host) waitSock(ctx context.Context, fd int32, events int16) bool {
	f, errno := h.sys.Lookup(fd)
	if errno != 0 || f.Flags&sys.FdflagNonblock != 0 {
		return false
	}
	// Room for the Poller's own descriptors: the wait allocates nothing.
	var set [3]sys.PollFd
	set[0] = f.PollFd(events)
	if _, errno := h.poller.Wait(ctx, set[:1], nil); errno == sys.ECANCELED {
		endOnDone(ctx)
	}
	return true
}

// recvWaiting runs recv with the guest's riflags, first without waiting: only
// when nothing is there yet on a socket the guest left blocking does it wait
// (waitSock) and run recv again, so a receive that finds data makes one
// system call. MSG_WAITALL receives wait first, as they may block anyway.
func (h *Host) recvWaiting(ctx context.Context, fd int32, riflags uint32, recv func(riflags uint16) sys.Errno) sys.Errno {
	if riflags > 0xffff || riflags&sys.RiflagDontWait != 0 {
		return sys.EINVAL
	}
	if riflags&sys.RiflagRecvWaitall != 0 {
		h.waitSock(ctx, fd, sys.PollIn)
		return recv(uint16(riflags))
	}
	if errno := recv(uint16(riflags) | sys.RiflagDontWait); errno != sys.EAGAIN || !h.waitSock(ctx, fd, sys.PollIn) {
		return errno
	}
	return recv(uint16(riflags))
}

// sockOpen creates a socket of family af (1 inet4, 2 inet6, 3 unix) and type
// socktype (1 dgram, 2 stream, 0 stream) and writes its fd.
// Errors: EAFNOSUPPORT, EPROTOTYPE, EMFILE, EFAULT. POSIX: socket.
func sockOpen(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	mem := mod.Memory()
	af, st, result := uint32(p[0]), uint32(p[1]), uint32(p[2])
	if errno := writable(mem, 4, result); errno != 0 {
		return errno
	}
	if af > 0xff || st > 0xff {
		return sys.EINVAL
	}
	fd, errno := h.sys.SockOpen(sys.Family(af), sys.SockType(st))
	if errno != 0 {
		return errno
	}
	return writeU32(mem, result, uint32(fd))
}

// sockBind binds fd to the address at addr with port (host order). Unix
// paths live inside the guest's preopens.
// Errors: EBADF, ENOTSOCK, EINVAL (bad address), EAFNOSUPPORT, EADDRINUSE,
// EADDRNOTAVAIL, ENOTCAPABLE, EFAULT. POSIX: bind.
func sockBind(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	a, errno := readAddr(mod.Memory(), uint32(p[1]), uint32(p[2]))
	if errno != 0 {
		return errno
	}
	return h.sys.SockBind(int32(p[0]), a)
}

// sockConnect connects fd to the address at addr with port. A non-blocking
// socket returns EINPROGRESS; the guest polls for writable and reads
// SO_ERROR. Errors: EBADF, ENOTSOCK, EINVAL, EAFNOSUPPORT, ECONNREFUSED,
// EINPROGRESS, EISCONN, ENETUNREACH, ETIMEDOUT, ENOTCAPABLE, EFAULT.
// POSIX: connect.
func sockConnect(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	a, errno := readAddr(mod.Memory(), uint32(p[1]), uint32(p[2]))
	if errno != 0 {
		return errno
	}
	return h.sys.SockConnect(int32(p[0]), a)
}

// sockListen makes fd a listening socket with the given backlog.
// Errors: EBADF, ENOTSOCK, EOPNOTSUPP/ENOTSUP (datagram socket). POSIX: listen.
func sockListen(_ context.Context, h *Host, _ api.Module, p []uint64) sys.Errno {
	return h.sys.SockListen(int32(p[0]), int32(p[1]))
}

// sockAccept (preview1 shape, also sock_accept_v2) accepts a connection on
// fd, applies flags (NONBLOCK) to it and writes the new fd.
// Errors: EBADF, ENOTSOCK, ENOTCAPABLE, EAGAIN (non-blocking, none
// pending), EINVAL (not listening), EMFILE, EFAULT. POSIX: accept4.
func sockAccept(ctx context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	return accept(ctx, h, mod, int32(p[0]), sys.Fdflags(p[1]), uint32(p[2]))
}

// sockAcceptV1 is the extension's V1 sock_accept(fd, *fd): no flags, the
// new socket is blocking.
func sockAcceptV1(ctx context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	return accept(ctx, h, mod, int32(p[0]), 0, uint32(p[1]))
}

func accept(ctx context.Context, h *Host, mod api.Module, fd int32, flags sys.Fdflags, result uint32) sys.Errno {
	mem := mod.Memory()
	if errno := writable(mem, 4, result); errno != 0 {
		return errno
	}
	h.waitSock(ctx, fd, sys.PollIn)
	nfd, errno := h.sys.SockAccept(fd, flags)
	if errno != 0 {
		return errno
	}
	return writeU32(mem, result, uint32(nfd))
}

// sockRecv reads from fd into the iovecs and writes the byte count and
// roflags (u16; DATA_TRUNCATED for a datagram longer than the buffers).
// riflags: RECV_PEEK, RECV_WAITALL. Errors: EBADF, ENOTSOCK, ENOTCAPABLE,
// EINVAL (unknown flags), EAGAIN, ECONNRESET, ENOTCONN, EFAULT.
// POSIX: recvmsg.
func sockRecv(ctx context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	mem := mod.Memory()
	fd, iovs, n, riflags, resultN, resultFlags := int32(p[0]), uint32(p[1]), uint32(p[2]), uint32(p[3]), uint32(p[4]), uint32(p[5])
	if errno := writable(mem, 4, resultN); errno != 0 {
		return errno
	}
	if errno := writable(mem, 2, resultFlags); errno != 0 {
		return errno
	}
	bufs, errno := h.readIovecs(mem, iovs, n)
	if errno != 0 {
		return errno
	}
	defer h.doneIovecs()
	var nr uint32
	var roflags uint16
	errno = h.recvWaiting(ctx, fd, riflags, func(riflags uint16) (errno sys.Errno) {
		nr, roflags, errno = h.sys.SockRecv(fd, bufs, riflags)
		return errno
	})
	if errno != 0 {
		return errno
	}
	mem.WriteUint16Le(resultFlags, roflags)
	return writeU32(mem, resultN, nr)
}

// sockSend writes the iovecs to fd and the byte count at so_datalen.
// Errors: EBADF, ENOTSOCK, ENOTCAPABLE, EAGAIN, EPIPE, ECONNRESET, EFAULT.
// POSIX: sendmsg (MSG_NOSIGNAL).
func sockSend(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	mem := mod.Memory()
	fd, iovs, n, siflags, resultN := int32(p[0]), uint32(p[1]), uint32(p[2]), uint32(p[3]), uint32(p[4])
	if errno := writable(mem, 4, resultN); errno != 0 {
		return errno
	}
	bufs, errno := h.readIovecs(mem, iovs, n)
	if errno != 0 {
		return errno
	}
	defer h.doneIovecs()
	nw, errno := h.sys.SockSend(fd, bufs, uint16(siflags))
	if errno != 0 {
		return errno
	}
	return writeU32(mem, resultN, nw)
}

// sockRecvFromV2 is sock_recv with the sender's address written into the
// buffer at addr and its port (u32, host order) at port. The V2 shape.
// Errors: as sockRecv, plus EINVAL when the address buffer cannot hold the
// addresses of the socket's family (4 bytes on an IPv6 datagram socket, 4
// or 16 on a Unix one, a size other than 4, 16 and 128), decided before
// anything is received so no datagram is lost to it.
func sockRecvFromV2(ctx context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	return recvFrom(ctx, h, mod, p[:5], uint32(p[5]), true, uint32(p[6]), uint32(p[7]))
}

// sockRecvFromV1 is sockRecvFromV2 without the port (the V1 shape).
func sockRecvFromV1(ctx context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	return recvFrom(ctx, h, mod, p[:5], 0, false, uint32(p[5]), uint32(p[6]))
}

func recvFrom(ctx context.Context, h *Host, mod api.Module, p []uint64, resultPort uint32, wantPort bool, resultN, resultFlags uint32) sys.Errno {
	mem := mod.Memory()
	fd, iovs, n, addrPtr, riflags := int32(p[0]), uint32(p[1]), uint32(p[2]), uint32(p[3]), uint32(p[4])
	if errno := writable(mem, 4, resultN); errno != 0 {
		return errno
	}
	if errno := writable(mem, 2, resultFlags); errno != 0 {
		return errno
	}
	if wantPort {
		if errno := writable(mem, 4, resultPort); errno != 0 {
			return errno
		}
	}
	buf, errno := addrBuf(mem, addrPtr)
	if errno != 0 {
		return errno
	}
	// Every sender of a datagram socket has the socket's family: whether
	// its address fits is known before receiving, whoever sends.
	if errno := addrFits(len(buf), h.sys.SenderFamily(fd)); errno != 0 {
		return errno
	}
	bufs, errno := h.readIovecs(mem, iovs, n)
	if errno != 0 {
		return errno
	}
	defer h.doneIovecs()
	var nr uint32
	var roflags uint16
	var from sys.Addr
	errno = h.recvWaiting(ctx, fd, riflags, func(riflags uint16) (errno sys.Errno) {
		nr, roflags, from, errno = h.sys.SockRecvFrom(fd, bufs, riflags)
		return errno
	})
	if errno != 0 {
		return errno
	}
	if _, errno := encodeAddr(buf, from); errno != 0 {
		return errno
	}
	if wantPort {
		mem.WriteUint32Le(resultPort, uint32(from.Port))
	}
	mem.WriteUint16Le(resultFlags, roflags)
	return writeU32(mem, resultN, nr)
}

// sockSendTo sends the iovecs to the address at addr with port and writes
// the byte count. Same in V1 and V2.
// Errors: as sockSend, plus EINVAL (bad address), EAFNOSUPPORT, EMSGSIZE,
// EDESTADDRREQ, ENOTCAPABLE. POSIX: sendto.
func sockSendTo(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	mem := mod.Memory()
	fd, iovs, n, addrPtr, port, siflags, resultN := int32(p[0]), uint32(p[1]), uint32(p[2]), uint32(p[3]), uint32(p[4]), uint32(p[5]), uint32(p[6])
	if errno := writable(mem, 4, resultN); errno != 0 {
		return errno
	}
	bufs, errno := h.readIovecs(mem, iovs, n)
	if errno != 0 {
		return errno
	}
	defer h.doneIovecs()
	a, errno := readAddr(mem, addrPtr, port)
	if errno != 0 {
		return errno
	}
	nw, errno := h.sys.SockSendTo(fd, bufs, a, uint16(siflags))
	if errno != 0 {
		return errno
	}
	return writeU32(mem, resultN, nw)
}

// sockShutdown shuts down the read (1), write (2) or both (3) sides of fd.
// Errors: EBADF, ENOTSOCK, ENOTCAPABLE, EINVAL, ENOTCONN. POSIX: shutdown.
func sockShutdown(_ context.Context, h *Host, _ api.Module, p []uint64) sys.Errno {
	how := uint32(p[1])
	if how > 0xff {
		return sys.EINVAL
	}
	return h.sys.SockShutdown(int32(p[0]), uint8(how))
}

// getsockoptLiteralLen is the flag_size the Go library passes by value.
const getsockoptLiteralLen = 4

// sockGetsockopt writes the value of option name at level to flag.
// flag_size is a pointer to the buffer's u32 size in WasmEdge's and Rust's
// shape, and the literal 4 in the Go library's: exactly 4 is taken as the
// size (nothing is written back); any other value as a pointer, updated
// with the value's length. Values: see sys/sockopt_linux.go.
// Errors: EBADF, ENOTSOCK, ENOPROTOOPT (unknown level or option), EINVAL
// (buffer too small), EFAULT. POSIX: getsockopt.
func sockGetsockopt(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	mem := mod.Memory()
	fd, level, name, valPtr, sizeArg := int32(p[0]), uint32(p[1]), uint32(p[2]), uint32(p[3]), uint32(p[4])
	size := uint32(getsockoptLiteralLen)
	sizeIsPtr := sizeArg != getsockoptLiteralLen
	if sizeIsPtr {
		v, ok := mem.ReadUint32Le(sizeArg)
		if !ok {
			return sys.EFAULT
		}
		size = v
	}
	buf, errno := view(mem, valPtr, size)
	if errno != 0 {
		return errno
	}
	val, errno := h.sys.SockGetOpt(fd, level, name)
	if errno != 0 {
		return errno
	}
	if uint32(len(val)) > size {
		if level != sys.SolSocket || name != sys.SoBindtodevice {
			return sys.EINVAL
		}
		val = val[:size] // a name is truncated, as Linux does
	}
	copy(buf, val)
	if sizeIsPtr {
		return writeU32(mem, sizeArg, uint32(len(val)))
	}
	return sys.ESUCCESS
}

// sockSetsockopt sets option name at level from the flag_size bytes at
// flag. Errors: EBADF, ENOTSOCK, ENOPROTOOPT (unknown or read-only option),
// EINVAL (wrong size), EPERM, EFAULT. POSIX: setsockopt.
func sockSetsockopt(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	fd, level, name, valPtr, size := int32(p[0]), uint32(p[1]), uint32(p[2]), uint32(p[3]), uint32(p[4])
	buf, errno := view(mod.Memory(), valPtr, size)
	if errno != 0 {
		return errno
	}
	return h.sys.SockSetOpt(fd, level, name, buf)
}

// sockGetlocaladdrV2 writes fd's local address into the buffer at addr and
// its port at port (also sock_getlocaladdr_v2). The V2 shape.
// Errors: EBADF, ENOTSOCK, EINVAL (buffer size), EFAULT. POSIX: getsockname.
func sockGetlocaladdrV2(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	return sockName(h, mod, h.sys.SockLocalAddr, uint32(p[0]), uint32(p[1]), 0, false, uint32(p[2]))
}

// sockGetlocaladdrV1 is the V1 shape: it also writes the address type (4 or
// 6, u32) at addr_type.
func sockGetlocaladdrV1(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	return sockName(h, mod, h.sys.SockLocalAddr, uint32(p[0]), uint32(p[1]), uint32(p[2]), true, uint32(p[3]))
}

// sockGetpeeraddrV2 writes fd's peer address and port (also
// sock_getpeeraddr_v2). Errors: as sockGetlocaladdrV2, plus ENOTCONN.
// POSIX: getpeername.
func sockGetpeeraddrV2(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	return sockName(h, mod, h.sys.SockPeerAddr, uint32(p[0]), uint32(p[1]), 0, false, uint32(p[2]))
}

// sockGetpeeraddrV1 is the V1 shape of sockGetpeeraddrV2.
func sockGetpeeraddrV1(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	return sockName(h, mod, h.sys.SockPeerAddr, uint32(p[0]), uint32(p[1]), uint32(p[2]), true, uint32(p[3]))
}

func sockName(h *Host, mod api.Module, get func(int32) (sys.Addr, sys.Errno), fd, addrPtr, typePtr uint32, wantType bool, portPtr uint32) sys.Errno {
	mem := mod.Memory()
	if errno := writable(mem, 4, portPtr); errno != 0 {
		return errno
	}
	if wantType {
		if errno := writable(mem, 4, typePtr); errno != 0 {
			return errno
		}
	}
	buf, errno := addrBuf(mem, addrPtr)
	if errno != 0 {
		return errno
	}
	a, errno := get(int32(fd))
	if errno != 0 {
		return errno
	}
	addrType, errno := encodeAddr(buf, a)
	if errno != 0 {
		return errno
	}
	if wantType {
		mem.WriteUint32Le(typePtr, addrType)
	}
	return writeU32(mem, portPtr, uint32(a.Port))
}
