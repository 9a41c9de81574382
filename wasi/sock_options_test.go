//go:build linux || darwin

package wasi

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// sockFreePort returns a loopback TCP port nobody listens on (it was free a
// moment ago; the kernel does not reuse it at once).
func sockFreePort(t *testing.T) uint32 {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint32(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	return port
}

// TestSockNonblockingConnect: EINPROGRESS, poll writable, then SO_ERROR
// reads as a WASI errno (0 when connected, ECONNREFUSED when refused).
func TestSockNonblockingConnect(t *testing.T) {
	h := newHarness(t, Config{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tc := range []struct {
		port uint32
		want sys.Errno
	}{
		{uint32(l.Addr().(*net.TCPAddr).Port), 0},
		{sockFreePort(t), sys.ECONNREFUSED},
	} {
		fd := h.sockOpen(sys.AFInet4, sys.SockStream)
		h.expectErrno(0, "fd_fdstat_set_flags", fd, uint64(sys.FdflagNonblock))
		h.putAddrV1(ip4Loopback)
		errno := h.call("sock_connect", fd, pAddr, uint64(tc.port))
		if errno != sys.EINPROGRESS && errno != tc.want {
			t.Fatalf("non-blocking connect = %v", errno)
		}
		f, _ := h.sys.Lookup(int32(fd))
		pfd := []unix.PollFd{{Fd: int32(f.Fd), Events: unix.POLLOUT}}
		if _, err := unix.Poll(pfd, 10000); err != nil {
			t.Fatal(err)
		}
		// The Go library's shape: literal length 4.
		h.writeU32(pN, 0xaaaaaaaa)
		h.expectErrno(0, "sock_getsockopt", fd, sys.SolSocket, sys.SoError, pN, 4)
		if got := sys.Errno(h.u32(pN)); errno == sys.EINPROGRESS && got != tc.want {
			t.Errorf("SO_ERROR = %v, want %v", got, tc.want)
		}
		h.expectErrno(0, "fd_close", fd)
	}
}

// TestSockPollLeavesError: poll_oneoff reports a socket's pending error as
// an event error without consuming it, so the guest's SO_ERROR read (after a
// refused non-blocking connect) or its next recv (after a reset) still gets
// the real error, as with poll(2).
func TestSockPollLeavesError(t *testing.T) {
	h := newHarness(t, Config{})
	soError := func(fd uint64) sys.Errno {
		t.Helper()
		h.writeU32(pN, 0xaaaaaaaa)
		h.expectErrno(0, "sock_getsockopt", fd, sys.SolSocket, sys.SoError, pN, 4)
		return sys.Errno(h.u32(pN))
	}

	fd := h.sockOpen(sys.AFInet4, sys.SockStream)
	h.expectErrno(0, "fd_fdstat_set_flags", fd, uint64(sys.FdflagNonblock))
	h.putAddrV1(ip4Loopback)
	if errno := h.call("sock_connect", fd, pAddr, uint64(sockFreePort(t))); errno != sys.EINPROGRESS {
		t.Fatalf("non-blocking connect to a closed port = %v, want EINPROGRESS", errno)
	}
	for range 2 { // polling twice must not lose it either
		if errno := h.poll(fdSub(1, eventtypeFdWrite, int32(fd)), clockSub(2, clockMonotonic, uint64(10*time.Second), 0)); errno != 0 {
			t.Fatalf("poll_oneoff: %v", errno)
		}
		if got := h.u32(pollNevents); got != 1 || uint16(h.u32(pollOut+8)) == 0 {
			t.Fatalf("want one event with an error for a refused connect, got %d events, error %d", got, uint16(h.u32(pollOut+8)))
		}
	}
	if got := soError(fd); got != sys.ECONNREFUSED {
		t.Errorf("SO_ERROR after poll = %v, want ECONNREFUSED", got)
	}
	if got := soError(fd); got != 0 {
		t.Errorf("second SO_ERROR = %v, want 0 (reading it clears it)", got)
	}

	// A reset connection: the event carries an error and recv gets ECONNRESET.
	l, port := h.listen4()
	conn := h.sockOpen(sys.AFInet4, sys.SockStream)
	h.putAddrV1(ip4Loopback)
	h.expectErrno(0, "sock_connect", conn, pAddr, uint64(port))
	h.expectErrno(0, "sock_accept", l, 0, pFD)
	peer, _ := h.sys.Lookup(int32(h.u32(pFD)))
	if err := unix.SetsockoptLinger(peer.Fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0}); err != nil {
		t.Fatal(err)
	}
	h.expectErrno(0, "fd_close", uint64(h.u32(pFD))) // sends RST
	if errno := h.poll(fdSub(3, eventtypeFdRead, int32(conn)), clockSub(4, clockMonotonic, uint64(10*time.Second), 0)); errno != 0 {
		t.Fatalf("poll_oneoff: %v", errno)
	}
	if got := h.u64(pollOut); h.u32(pollNevents) != 1 || got != 3 || uint16(h.u32(pollOut+8)) == 0 {
		t.Fatalf("want one read event with an error for a reset, got %d events (userdata %d, error %d)", h.u32(pollNevents), got, uint16(h.u32(pollOut+8)))
	}
	h.sendBuf("xxxx")
	h.expectErrno(sys.ECONNRESET, "sock_recv", conn, pIov, 1, 0, pN, pFlags)
}

func TestSockOptions(t *testing.T) {
	h := newHarness(t, Config{})
	fd := h.sockOpen(sys.AFInet4, sys.SockStream)
	udp := h.sockOpen(sys.AFInet4, sys.SockDgram)

	// Literal length 4 (Go library): nothing written at "4".
	h.fill(0xaa)
	h.expectErrno(0, "sock_getsockopt", fd, 0, sys.SoType, pN, 4)
	h.expectMem(pN, []byte{2, 0, 0, 0, 0xaa})
	h.expectErrno(0, "sock_getsockopt", udp, 0, sys.SoType, pN, 4)
	h.expectMem(pN, []byte{1, 0, 0, 0})

	// Length pointer (WasmEdge/Rust): value and its length written.
	h.writeU32(100, 4)
	h.writeU32(pN, 1)
	h.expectErrno(0, "sock_setsockopt", fd, 0, sys.SoReuseaddr, pN, 4)
	h.writeU32(pN, 7)
	h.expectErrno(0, "sock_getsockopt", fd, 0, sys.SoReuseaddr, pN, 100)
	if v, n := h.u32(pN), h.u32(100); v != 1 || n != 4 {
		t.Errorf("REUSEADDR = %d (len %d), want 1 (4)", v, n)
	}
	h.writeU32(100, 2)
	h.expectErrno(sys.EINVAL, "sock_getsockopt", fd, 0, sys.SoReuseaddr, pN, 100)

	// SNDBUF, KEEPALIVE, ACCEPTCONN.
	h.writeU32(pN, 1)
	h.expectErrno(0, "sock_setsockopt", fd, 0, sys.SoKeepalive, pN, 4)
	h.expectErrno(0, "sock_getsockopt", fd, 0, sys.SoKeepalive, pN, 4)
	if h.u32(pN) != 1 {
		t.Errorf("KEEPALIVE not set")
	}
	h.expectErrno(0, "sock_getsockopt", fd, 0, sys.SoAcceptconn, pN, 4)
	if h.u32(pN) != 0 {
		t.Errorf("ACCEPTCONN on a fresh socket")
	}

	// LINGER as {i32 onoff, i32 linger}.
	h.writeU32(200, 1)
	h.writeU32(204, 3)
	h.expectErrno(0, "sock_setsockopt", fd, 0, sys.SoLinger, 200, 8)
	h.fill(0)
	h.writeU32(100, 8)
	h.expectErrno(0, "sock_getsockopt", fd, 0, sys.SoLinger, 200, 100)
	h.expectMem(200, []byte{1, 0, 0, 0, 3, 0, 0, 0})
	h.expectErrno(sys.EINVAL, "sock_setsockopt", fd, 0, sys.SoLinger, 200, 4)

	// RCVTIMEO as {i64 sec, i64 usec}.
	h.writeU64(200, 2)
	h.writeU64(208, 500000)
	h.expectErrno(0, "sock_setsockopt", fd, 0, sys.SoRcvtimeo, 200, 16)
	h.fill(0)
	h.writeU32(100, 16)
	h.expectErrno(0, "sock_getsockopt", fd, 0, sys.SoRcvtimeo, 200, 100)
	if s, us := h.u64(200), h.u64(208); s != 2 || us != 500000 {
		t.Errorf("RCVTIMEO = %d.%06d, want 2.500000", s, us)
	}

	// BINDTODEVICE and a non-zero DONTROUTE are refused (EPERM) even to a
	// root host; reading them and DONTROUTE 0 work.
	h.write(200, []byte("lo\x00"))
	h.expectErrno(sys.EPERM, "sock_setsockopt", fd, 0, sys.SoBindtodevice, 200, 3)
	h.expectErrno(sys.EPERM, "sock_setsockopt", udp, 0, sys.SoBindtodevice, 200, 2)
	h.writeU32(pN, 1)
	h.expectErrno(sys.EPERM, "sock_setsockopt", udp, 0, sys.SoDontroute, pN, 4)
	h.writeU32(pN, 0)
	h.expectErrno(0, "sock_setsockopt", udp, 0, sys.SoDontroute, pN, 4)
	h.fill(0xaa)
	h.expectErrno(0, "sock_getsockopt", udp, 0, sys.SoDontroute, pN, 4)
	h.expectMem(pN, []byte{0, 0, 0, 0, 0xaa})
	h.writeU32(100, 16)
	h.expectErrno(0, "sock_getsockopt", fd, 0, sys.SoBindtodevice, 200, 100)
	if n := h.u32(100); n != 0 {
		t.Errorf("BINDTODEVICE reads as %d bytes, want none", n)
	}

	// Unknown level and option, read-only options.
	h.expectErrno(sys.ENOPROTOOPT, "sock_getsockopt", fd, 1, sys.SoType, pN, 4)
	h.expectErrno(sys.ENOPROTOOPT, "sock_getsockopt", fd, 0, 99, pN, 4)
	h.expectErrno(sys.ENOPROTOOPT, "sock_setsockopt", fd, 0, sys.SoType, pN, 4)
	h.expectErrno(sys.ENOPROTOOPT, "sock_setsockopt", fd, 0, sys.SoError, pN, 4)
	h.expectErrno(sys.EINVAL, "sock_setsockopt", fd, 0, sys.SoReuseaddr, pN, 2)
	h.expectErrno(sys.ENOTSOCK, "sock_getsockopt", harnessPreopenFD, 0, sys.SoType, pN, 4)
}
