//go:build linux || darwin

package wasi

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	wsys "github.com/tetratelabs/wazero/sys"
	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

func TestSockOpen(t *testing.T) {
	h := newHarness(t, Config{})
	for _, tc := range []struct {
		af   sys.Family
		st   sys.SockType
		want sys.Filetype
	}{
		{sys.AFInet4, sys.SockStream, sys.FiletypeSocketStream},
		{sys.AFInet4, sys.SockDgram, sys.FiletypeSocketDgram},
		{sys.AFInet6, sys.SockStream, sys.FiletypeSocketStream},
		{sys.AFInet6, sys.SockAny, sys.FiletypeSocketStream},
		{sys.AFUnix, sys.SockDgram, sys.FiletypeSocketDgram},
	} {
		h.fill(0xaa)
		fd := h.sockOpen(tc.af, tc.st)
		h.expectErrno(0, "fd_fdstat_get", fd, 100)
		if got := sys.Filetype(h.read(100, 1)[0]); got != tc.want {
			t.Errorf("sock_open(%d, %d): filetype %d, want %d", tc.af, tc.st, got, tc.want)
		}
		if flags := binary.LittleEndian.Uint16(h.read(102, 2)); flags != 0 {
			t.Errorf("new socket has fdflags %#x, want blocking (0)", flags)
		}
		f, _ := h.sys.Lookup(int32(fd))
		fl, err := unix.FcntlInt(uintptr(f.Fd), unix.F_GETFD, 0)
		if err != nil || fl&unix.FD_CLOEXEC == 0 {
			t.Errorf("host socket not close-on-exec (%#x, %v)", fl, err)
		}
		h.expectErrno(0, "fd_close", fd)
	}
	h.expectErrno(sys.EAFNOSUPPORT, "sock_open", 0, 2, pFD)
	h.expectErrno(sys.EAFNOSUPPORT, "sock_open", 9, 2, pFD)
	h.expectErrno(sys.EPROTOTYPE, "sock_open", 1, 7, pFD)
	h.expectErrno(sys.EFAULT, "sock_open", 1, 2, pBad)
	if n := h.sys.FDs.Len(); n != 4 {
		t.Errorf("%d descriptors open after failed sock_open, want 4", n)
	}
}

func TestSockTCPEchoV2(t *testing.T) {
	h := newShapeHarness(t, Config{}, shapeV2)
	fd, port := h.listen4()

	// getlocaladdr V2: family 1, the address, zeros; the port.
	h.fill(0xaa)
	h.outAddr(addrBufSize)
	h.expectErrno(0, "sock_getlocaladdr", fd, pAddr, pPort)
	want := make([]byte, addrBufSize)
	want[0] = 1
	copy(want[2:], ip4Loopback)
	h.expectMem(pAddrBuf, want)
	if got := h.u32(pPort); got != port {
		t.Errorf("port %d, want %d", got, port)
	}
	h.expectMem(pAddrBuf+addrBufSize, []byte{0xaa})

	done := make(chan error, 1)
	go func() {
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", sockPortStr(port)))
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		if _, err := c.Write([]byte("ping")); err != nil {
			done <- err
			return
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil {
			done <- err
			return
		}
		if string(buf) != "pong" {
			done <- io.ErrUnexpectedEOF
			return
		}
		done <- nil
	}()

	// Preview1 accept with NONBLOCK: the new socket really is non-blocking.
	h.expectErrno(0, "sock_accept", fd, uint64(sys.FdflagNonblock), pFD)
	conn := uint64(h.u32(pFD))
	h.expectErrno(0, "fd_fdstat_get", conn, 100)
	if flags := binary.LittleEndian.Uint16(h.read(102, 2)); flags != uint16(sys.FdflagNonblock) {
		t.Errorf("accepted fd flags %#x, want NONBLOCK", flags)
	}
	f, _ := h.sys.Lookup(int32(conn))
	if fl, _ := unix.FcntlInt(uintptr(f.Fd), unix.F_GETFL, 0); fl&unix.O_NONBLOCK == 0 {
		t.Errorf("accepted host socket is blocking")
	}

	// Wait for the data with the host's poll, then recv.
	pfd := []unix.PollFd{{Fd: int32(f.Fd), Events: unix.POLLIN}}
	if _, err := unix.Poll(pfd, 10000); err != nil {
		t.Fatal(err)
	}
	h.fill(0xaa)
	h.writeIovecs(pIov, [2]uint32{pData, 2}, [2]uint32{pData + 10, 8})
	h.expectErrno(0, "sock_recv", conn, pIov, 2, 0, pN, pFlags)
	if n := h.u32(pN); n != 4 {
		t.Fatalf("sock_recv read %d bytes, want 4", n)
	}
	h.expectMem(pData, []byte{'p', 'i', 0xaa})
	h.expectMem(pData+10, []byte{'n', 'g', 0xaa})
	h.expectMem(pFlags, []byte{0, 0, 0xaa})

	// Nothing more: EAGAIN, not a block.
	h.expectErrno(sys.EAGAIN, "sock_recv", conn, pIov, 2, 0, pN, pFlags)

	// getpeeraddr V2.
	h.outAddr(addrBufSize)
	h.expectErrno(0, "sock_getpeeraddr", conn, pAddr, pPort)
	h.expectMem(pAddrBuf, []byte{1, 0, 127, 0, 0, 1, 0})
	if h.u32(pPort) == 0 {
		t.Errorf("peer port 0")
	}

	h.sendBuf("pong")
	h.expectErrno(0, "sock_send", conn, pIov, 1, 0, pN)
	if n := h.u32(pN); n != 4 {
		t.Errorf("sock_send wrote %d", n)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	h.expectErrno(0, "sock_shutdown", conn, sys.ShutWR)
	h.expectErrno(sys.EINVAL, "sock_shutdown", conn, 4)
	h.expectErrno(0, "fd_close", conn)
}

func TestSockV1Shapes(t *testing.T) {
	h := newShapeHarness(t, Config{}, shapeV1)
	fd, port := h.listen4()

	// getlocaladdr V1 into 16 bytes: IPv4 in the first 4, zeros, type 4.
	h.fill(0xaa)
	h.outAddr(16)
	h.expectErrno(0, "sock_getlocaladdr", fd, pAddr, pType, pPort)
	h.expectMem(pAddrBuf, append(append([]byte{}, ip4Loopback...), make([]byte, 12)...))
	h.expectMem(pAddrBuf+16, []byte{0xaa})
	if got := h.u32(pType); got != 4 {
		t.Errorf("addr_type %d, want 4", got)
	}
	if got := h.u32(pPort); got != port {
		t.Errorf("port %d, want %d", got, port)
	}
	// Into 4 bytes and into 128 (V2 layout through a V1 function).
	h.outAddr(4)
	h.expectErrno(0, "sock_getlocaladdr", fd, pAddr, pType, pPort)
	h.expectMem(pAddrBuf, []byte{127, 0, 0, 1, 0})
	h.outAddr(128)
	h.expectErrno(0, "sock_getlocaladdr", fd, pAddr, pType, pPort)
	h.expectMem(pAddrBuf, []byte{1, 0, 127, 0, 0, 1, 0})
	h.outAddr(8)
	h.expectErrno(sys.EINVAL, "sock_getlocaladdr", fd, pAddr, pType, pPort)

	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", sockPortStr(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// V1 accept: two params, blocking result.
	h.expectErrno(0, "sock_accept", fd, pFD)
	conn := uint64(h.u32(pFD))
	h.expectErrno(0, "fd_fdstat_get", conn, 100)
	if flags := binary.LittleEndian.Uint16(h.read(102, 2)); flags != 0 {
		t.Errorf("V1-accepted fd flags %#x, want 0", flags)
	}
	h.fill(0xaa)
	h.outAddr(16)
	h.expectErrno(0, "sock_getpeeraddr", conn, pAddr, pType, pPort)
	h.expectMem(pAddrBuf, []byte{127, 0, 0, 1, 0, 0})
	if got, want := h.u32(pPort), uint32(c.LocalAddr().(*net.TCPAddr).Port); got != want {
		t.Errorf("peer port %d, want %d", got, want)
	}

	// IPv6 on ::1 reports type 6.
	fd6 := h.sockOpen(sys.AFInet6, sys.SockStream)
	h.putAddrV1(ip6Loopback)
	if errno := h.call("sock_bind", fd6, pAddr, 0); errno != 0 {
		t.Skipf("no IPv6 loopback: %v", errno)
	}
	h.outAddr(16)
	h.expectErrno(0, "sock_getlocaladdr", fd6, pAddr, pType, pPort)
	h.expectMem(pAddrBuf, ip6Loopback)
	if got := h.u32(pType); got != 6 {
		t.Errorf("addr_type %d, want 6", got)
	}
	h.outAddr(4)
	h.expectErrno(sys.EINVAL, "sock_getlocaladdr", fd6, pAddr, pType, pPort)
}

func TestSockUDPRecvFrom(t *testing.T) {
	for _, tc := range []struct {
		name  string
		shape map[string]int
	}{{"V1", shapeV1}, {"V2", shapeV2}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newShapeHarness(t, Config{}, tc.shape)
			fd := h.sockOpen(sys.AFInet4, sys.SockDgram)
			h.putAddrV2(sys.AFInet4, ip4Loopback, "")
			h.expectErrno(0, "sock_bind", fd, pAddr, 0)
			port := h.localPort(fd)

			peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			peerPort := uint32(peer.LocalAddr().(*net.UDPAddr).Port)
			if _, err := peer.WriteTo([]byte("hello, world"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(port)}); err != nil {
				t.Fatal(err)
			}

			h.fill(0xaa)
			h.outAddr(addrBufSize)
			h.writeIovecs(pIov, [2]uint32{pData, 5})
			var errno sys.Errno
			if tc.name == "V1" {
				errno = h.call("sock_recv_from", fd, pIov, 1, pAddr, 0, pN, pFlags)
			} else {
				errno = h.call("sock_recv_from", fd, pIov, 1, pAddr, 0, pPort, pN, pFlags)
			}
			if errno != 0 {
				t.Fatalf("sock_recv_from = %v", errno)
			}
			h.expectMem(pData, []byte("hello\xaa"))
			if n := h.u32(pN); n != 5 {
				t.Errorf("nread %d, want 5", n)
			}
			h.expectMem(pFlags, []byte{sys.RoflagDataTrunc, 0, 0xaa})
			h.expectMem(pAddrBuf, []byte{1, 0, 127, 0, 0, 1, 0})
			if tc.name == "V2" {
				if got := h.u32(pPort); got != peerPort {
					t.Errorf("port %d, want %d", got, peerPort)
				}
			} else {
				h.expectMem(pPort, []byte{0xaa, 0xaa, 0xaa, 0xaa})
			}

			// send_to back to the peer with a V1 address.
			h.putAddrV1(ip4Loopback)
			h.sendBuf("reply")
			h.expectErrno(0, "sock_send_to", fd, pIov, 1, pAddr, uint64(peerPort), 0, pN)
			peer.SetReadDeadline(time.Now().Add(10 * time.Second))
			buf := make([]byte, 16)
			n, from, err := peer.ReadFrom(buf)
			if err != nil {
				t.Fatal(err)
			}
			if string(buf[:n]) != "reply" || from.(*net.UDPAddr).Port != int(port) {
				t.Errorf("peer got %q from %v", buf[:n], from)
			}
			h.expectErrno(sys.EINVAL, "sock_send_to", fd, pIov, 1, pAddr, 1<<16, 0, pN)
		})
	}
}

// TestSockRecvFromAddrTooSmall: a V1 4-byte address buffer on an IPv6
// datagram socket (and a 16-byte one on a Unix socket) cannot hold any
// sender's address: EINVAL, before receiving, so the datagram is still
// there for a call with a buffer that fits. Before, it was received, then
// lost to the EINVAL.
func TestSockRecvFromAddrTooSmall(t *testing.T) {
	h := newShapeHarness(t, Config{}, shapeV1)
	fd := h.sockOpen(sys.AFInet6, sys.SockDgram)
	h.putAddrV1(ip6Loopback)
	h.expectErrno(0, "sock_bind", fd, pAddr, 0)
	h.expectErrno(0, "fd_fdstat_set_flags", fd, uint64(sys.FdflagNonblock))
	port := h.localPort(fd)

	peer, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer peer.Close()
	if _, err := peer.WriteTo([]byte("datagram"), &net.UDPAddr{IP: net.IPv6loopback, Port: int(port)}); err != nil {
		t.Fatal(err)
	}
	f, _ := h.sys.Lookup(int32(fd))
	pfd := []unix.PollFd{{Fd: int32(f.Fd), Events: unix.POLLIN}}
	if n, err := unix.Poll(pfd, 10000); n != 1 || err != nil {
		t.Fatalf("datagram did not arrive: %d %v", n, err)
	}

	h.fill(0xaa)
	h.outAddr(4)
	h.writeIovecs(pIov, [2]uint32{pData, 16})
	h.expectErrno(sys.EINVAL, "sock_recv_from", fd, pIov, 1, pAddr, 0, pN, pFlags)
	h.expectMem(pAddrBuf, []byte{0xaa, 0xaa, 0xaa, 0xaa, 0xaa})
	h.expectMem(pData, []byte{0xaa})
	h.expectMem(pN, []byte{0xaa, 0xaa, 0xaa, 0xaa})

	h.outAddr(16)
	h.expectErrno(0, "sock_recv_from", fd, pIov, 1, pAddr, 0, pN, pFlags)
	h.expectMem(pData, []byte("datagram\xaa"))
	h.expectMem(pAddrBuf, append(append([]byte(nil), ip6Loopback...), 0xaa))

	// A Unix datagram socket's senders need the 128-byte buffer.
	u := h.sockOpen(sys.AFUnix, sys.SockDgram)
	h.putAddrV2(sys.AFUnix, nil, "u.sock")
	h.expectErrno(0, "sock_bind", u, pAddr, 0)
	h.expectErrno(0, "fd_fdstat_set_flags", u, uint64(sys.FdflagNonblock))
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: filepath.Join(h.dir, "u.sock"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("unix")); err != nil {
		t.Fatal(err)
	}
	for _, size := range []uint32{4, 16} {
		h.outAddr(size)
		h.expectErrno(sys.EINVAL, "sock_recv_from", u, pIov, 1, pAddr, 0, pN, pFlags)
	}
	h.outAddr(addrBufSize)
	h.fill(0xaa)
	h.outAddr(addrBufSize)
	h.writeIovecs(pIov, [2]uint32{pData, 16})
	h.expectErrno(0, "sock_recv_from", u, pIov, 1, pAddr, 0, pN, pFlags)
	h.expectMem(pData, []byte("unix\xaa"))
}

// TestSockEFAULT passes an out-of-range pointer in each pointer parameter of
// each function: every one is EFAULT, nothing blocks, nothing traps.
func TestSockEFAULT(t *testing.T) {
	for _, shape := range []map[string]int{shapeV1, shapeV2} {
		h := newShapeHarness(t, Config{}, shape)
		lfd, _ := h.listen4()
		udp := h.sockOpen(sys.AFInet4, sys.SockDgram)
		h.putAddrV1(ip4Loopback)
		h.expectErrno(0, "sock_bind", udp, pAddr, 0)
		h.outAddr(addrBufSize)
		h.writeIovecs(pIov, [2]uint32{pData, 16})

		type call struct {
			name   string
			params []uint64
			ptrs   []int // indexes of pointer params
		}
		calls := []call{
			{"sock_open", []uint64{1, 2, pFD}, []int{2}},
			{"sock_bind", []uint64{udp, pAddr, 0}, []int{1}},
			{"sock_connect", []uint64{udp, pAddr, 0}, []int{1}},
			{"sock_recv", []uint64{udp, pIov, 1, 0, pN, pFlags}, []int{1, 4, 5}},
			{"sock_send", []uint64{udp, pIov, 1, 0, pN}, []int{1, 4}},
			{"sock_send_to", []uint64{udp, pIov, 1, pAddr, 9, 0, pN}, []int{1, 3, 6}},
			{"sock_getsockopt", []uint64{udp, 0, sys.SoType, pN, pFD}, []int{3, 4}},
			{"sock_setsockopt", []uint64{udp, 0, sys.SoReuseaddr, pN, 4}, []int{3}},
			{"sock_getaddrinfo", []uint64{pData, 9, pData, 2, pIov, pFD, 1, pN}, []int{0, 2, 4, 5, 7}},
			{"sock_accept_v2", []uint64{lfd, 0, pFD}, []int{2}},
			{"sock_getlocaladdr_v2", []uint64{udp, pAddr, pPort}, []int{1, 2}},
			{"sock_getpeeraddr_v2", []uint64{udp, pAddr, pPort}, []int{1, 2}},
		}
		if shape["sock_accept"] == 2 {
			calls = append(calls,
				call{"sock_accept", []uint64{lfd, pFD}, []int{1}},
				call{"sock_recv_from", []uint64{udp, pIov, 1, pAddr, 0, pN, pFlags}, []int{1, 3, 5, 6}},
				call{"sock_getlocaladdr", []uint64{udp, pAddr, pType, pPort}, []int{1, 2, 3}},
				call{"sock_getpeeraddr", []uint64{udp, pAddr, pType, pPort}, []int{1, 2, 3}},
			)
		} else {
			calls = append(calls,
				call{"sock_accept", []uint64{lfd, 0, pFD}, []int{2}},
				call{"sock_recv_from", []uint64{udp, pIov, 1, pAddr, 0, pPort, pN, pFlags}, []int{1, 3, 5, 6, 7}},
			)
		}
		for _, c := range calls {
			for _, i := range c.ptrs {
				params := append([]uint64(nil), c.params...)
				params[i] = pBad
				if c.name == "sock_getsockopt" && i == 4 {
					params[i] = pBad - 1 // 4 is the literal length, not a pointer
				}
				h.expectErrno(sys.EFAULT, c.name, params...)
			}
		}
		// An address struct pointing out of range, and iovecs pointing out
		// of range.
		h.writeU32(pAddr, 65530)
		h.writeU32(pAddr+4, 16)
		h.expectErrno(sys.EFAULT, "sock_bind", udp, pAddr, 0)
		h.writeIovecs(pIov, [2]uint32{65530, 100})
		h.expectErrno(sys.EFAULT, "sock_send", udp, pIov, 1, 0, pN)
	}
}

func TestSockErrors(t *testing.T) {
	h := newHarness(t, Config{})
	tcp := h.sockOpen(sys.AFInet4, sys.SockStream)
	h.putAddrV1(ip4Loopback)
	// Not a socket, not open.
	h.expectErrno(sys.ENOTSOCK, "sock_bind", harnessPreopenFD, pAddr, 0)
	h.expectErrno(sys.EBADF, "sock_bind", 99, pAddr, 0)
	h.expectErrno(sys.EBADF, "sock_listen", 99, 1)
	h.expectErrno(sys.ENOTSOCK, "sock_listen", harnessPreopenFD, 1)
	// A bad address size, family and port.
	h.writeU32(pAddr+4, 5)
	h.expectErrno(sys.EINVAL, "sock_bind", tcp, pAddr, 0)
	h.putAddrV2(9, nil, "")
	h.expectErrno(sys.EAFNOSUPPORT, "sock_bind", tcp, pAddr, 0)
	h.putAddrV1(ip4Loopback)
	h.expectErrno(sys.EINVAL, "sock_bind", tcp, pAddr, 70000)
	// IPv6 address on an IPv4 socket.
	h.putAddrV1(ip6Loopback)
	h.expectErrno(sys.EAFNOSUPPORT, "sock_connect", tcp, pAddr, 1)
	// Accept on a socket that is not listening; recv on an unconnected one.
	h.expectErrno(sys.EINVAL, "sock_accept", tcp, 0, pFD)
	h.writeIovecs(pIov, [2]uint32{pData, 4})
	h.expectErrno(sys.ENOTCONN, "sock_recv", tcp, pIov, 1, 0, pN, pFlags)
	h.expectErrno(sys.EINVAL, "sock_recv", tcp, pIov, 1, 4, pN, pFlags)
	h.expectErrno(sys.EINVAL, "sock_recv", tcp, pIov, 1, uint64(sys.RiflagDontWait), pN, pFlags) // the host's own flag
	h.expectErrno(sys.ENOTCONN, "sock_getpeeraddr", tcp, pAddr, pPort)
	// Connection refused, blocking.
	port := sockFreePort(t)
	h.putAddrV1(ip4Loopback)
	h.expectErrno(sys.ECONNREFUSED, "sock_connect", tcp, pAddr, uint64(port))
}

// TestSockNotSocket: every socket call on a descriptor that is not a socket
// is ENOTSOCK, whatever rights it carries (the rights a file lacks, like
// SOCK_SHUTDOWN, do not make it ENOTCAPABLE): stdout (/dev/null here), a
// preopened directory, a read-only file. wasi-testsuite's
// sock_shutdown-not_sock: shutdown(STDOUT_FILENO, SHUT_RD) is ENOTSOCK.
func TestSockNotSocket(t *testing.T) {
	h := newHarness(t, Config{})
	writeFile(t, h, "f", "")
	file := uint64(fsOpen(h, "f", 0, sys.RightFdRead, 0))
	h.writeIovecs(pIov, [2]uint32{pData, 4})
	for _, fd := range []uint64{1, harnessPreopenFD, file} {
		h.putAddrV1(ip4Loopback)
		for _, c := range []struct {
			name   string
			params []uint64
		}{
			{"sock_shutdown", []uint64{fd, sys.ShutRD}},
			{"sock_shutdown", []uint64{fd, sys.ShutRD | sys.ShutWR}},
			{"sock_accept", []uint64{fd, 0, pFD}},
			{"sock_bind", []uint64{fd, pAddr, 0}},
			{"sock_connect", []uint64{fd, pAddr, 1}},
			{"sock_listen", []uint64{fd, 1}},
			{"sock_recv", []uint64{fd, pIov, 1, 0, pN, pFlags}},
			{"sock_send", []uint64{fd, pIov, 1, 0, pN}},
			{"sock_send_to", []uint64{fd, pIov, 1, pAddr, 1, 0, pN}},
			{"sock_getsockopt", []uint64{fd, 0, sys.SoType, pN, 4}},
			{"sock_setsockopt", []uint64{fd, 0, sys.SoReuseaddr, pN, 4}},
		} {
			h.expectErrno(sys.ENOTSOCK, c.name, c.params...)
		}
		h.outAddr(addrBufSize)
		h.expectErrno(sys.ENOTSOCK, "sock_recv_from", fd, pIov, 1, pAddr, 0, pPort, pN, pFlags)
		h.expectErrno(sys.ENOTSOCK, "sock_getlocaladdr", fd, pAddr, pPort)
		h.expectErrno(sys.ENOTSOCK, "sock_getpeeraddr", fd, pAddr, pPort)
	}
	h.expectErrno(sys.EBADF, "sock_shutdown", 99, sys.ShutRD)
}

func sockPortStr(n uint32) string { return strconv.Itoa(int(n)) }

// TestSockImportShapes: a guest mixing V1 and V2 shapes gets each function
// in the shape it imports; a known name in an unknown shape (WAMR's
// 4-parameter sock_open) fails at load, naming both signatures.
func TestSockImportShapes(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)

	mixed := map[string]*hostFunc{}
	for name, n := range map[string]int{"sock_accept": 2, "sock_getlocaladdr": 4, "sock_getpeeraddr": 4, "sock_recv_from": 8, "sock_getsockopt": 5} {
		for _, v := range registry[name] {
			if len(v.paramTypes) == n {
				mixed[name] = v
			}
		}
	}
	compiled, err := r.CompileModule(ctx, proxyModule(mixed))
	if err != nil {
		t.Fatal(err)
	}
	chosen, err := selectFuncs(compiled)
	if err != nil {
		t.Fatalf("mixed shape rejected: %v", err)
	}
	for name, want := range mixed {
		if chosen[name] != want {
			t.Errorf("%s: chose %s, want %s", name, chosen[name].signature(), want.signature())
		}
	}
	for _, name := range []string{"sock_accept_v2", "sock_getlocaladdr_v2", "sock_getpeeraddr_v2", "sock_getaddrinfo"} {
		if chosen[name] == nil {
			t.Errorf("%s not exported", name)
		}
	}

	wamr := newFunc("sock_open", nil, "fd", "af", "socktype", "result.fd")
	compiled, err = r.CompileModule(ctx, proxyModule(map[string]*hostFunc{"sock_open": wamr}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Instantiate(ctx, r, compiled, Config{})
	var ie *ImportError
	if !errors.As(err, &ie) {
		t.Fatalf("WAMR sock_open: err = %v, want *ImportError", err)
	}
	for _, s := range []string{"sock_open", "(i32,i32,i32,i32)->i32", "(i32,i32,i32)->i32"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %s", err, s)
		}
	}
}

// TestSockBlockingCancel: a guest blocked in sock_accept or sock_recv on a
// blocking socket sleeps until ctx is done, then ends like a closed module.
func TestSockBlockingCancel(t *testing.T) {
	h := newShapeHarness(t, Config{}, shapeV2)
	lfd, _ := h.listen4()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := h.guest.ExportedFunction("sock_accept").Call(ctx, lfd, 0, pFD)
	var exit *wsys.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != wsys.ExitCodeDeadlineExceeded {
		t.Fatalf("blocked sock_accept after the deadline: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to end", d)
	}

	h = newShapeHarness(t, Config{}, shapeV2)
	lfd, port := h.listen4()
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", sockPortStr(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h.expectErrno(0, "sock_accept", lfd, 0, pFD)
	conn := uint64(h.u32(pFD))
	h.writeIovecs(pIov, [2]uint32{pData, 4})
	ctx, cancel = context.WithCancel(context.Background())
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := gettid()
	var cancelled atomic.Bool
	go func() {
		waitInPpoll(t, tid) // the recv really waits before it is cancelled
		cancelled.Store(true)
		cancel()
	}()
	_, err = h.guest.ExportedFunction("sock_recv").Call(ctx, conn, pIov, 1, 0, pN, pFlags)
	if !errors.As(err, &exit) || exit.ExitCode() != wsys.ExitCodeContextCanceled {
		t.Fatalf("blocked sock_recv after cancel: %v", err)
	}
	if !cancelled.Load() {
		t.Fatal("sock_recv returned before the cancellation")
	}
}
