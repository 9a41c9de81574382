//go:build linux || darwin

package wasi

import (
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// Sockets on stdio: inetd, systemd socket activation or a supervisor hand a
// program its socket as fd 0 (or 1). The guest must see a socket like any
// other for every call (before, sock_recv worked on one and sock_bind said
// ENOTSOCK), and the host's shared description must keep its flags.

// hostSocketFile makes a host socket and returns it as a file, closed at
// cleanup.
func hostSocketFile(t *testing.T, domain, typ int) *os.File {
	t.Helper()
	fd, err := unix.Socket(domain, typ, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "socket")
	t.Cleanup(func() { f.Close() })
	return f
}

// hostNonblock reports whether f's host description is non-blocking.
func hostNonblock(t *testing.T, f *os.File) bool {
	t.Helper()
	fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fl&unix.O_NONBLOCK != 0
}

// TestSockOnStdioDgram: an unbound UDP socket as stdin is a datagram socket
// the guest can bind, name and receive on.
func TestSockOnStdioDgram(t *testing.T) {
	stdin := hostSocketFile(t, unix.AF_INET, unix.SOCK_DGRAM)
	h := newHarness(t, Config{Stdin: stdin})
	h.expectErrno(0, "fd_fdstat_get", 0, 100)
	if got := sys.Filetype(h.read(100, 1)[0]); got != sys.FiletypeSocketDgram {
		t.Errorf("stdin filetype %d, want SOCKET_DGRAM", got)
	}
	h.putAddrV1(ip4Loopback)
	if errno := h.call("sock_bind", 0, pAddr, 0); errno != 0 {
		t.Fatalf("sock_bind on stdin = %v, want success", errno)
	}
	h.outAddr(addrBufSize)
	h.expectErrno(0, "sock_getlocaladdr", 0, pAddr, pPort)
	port := h.u32(pPort)
	if port == 0 {
		t.Fatal("stdin bound to port 0")
	}
	h.expectErrno(0, "sock_getsockopt", 0, sys.SolSocket, sys.SoType, pN, 4)
	if got := h.u32(pN); got != uint32(sys.SockDgram) {
		t.Errorf("SO_TYPE %d, want dgram", got)
	}

	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if _, err := peer.WriteTo([]byte("hi"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(port)}); err != nil {
		t.Fatal(err)
	}
	h.outAddr(addrBufSize)
	h.writeIovecs(pIov, [2]uint32{pData, 16})
	h.expectErrno(0, "sock_recv_from", 0, pIov, 1, pAddr, 0, pPort, pN, pFlags)
	if got := h.u32(pPort); got != uint32(peer.LocalAddr().(*net.UDPAddr).Port) {
		t.Errorf("sender port %d", got)
	}
	h.expectMem(pData, []byte("hi"))
}

// TestSockOnStdioStream: a connected stream socket as stdout (inetd's
// nowait) sends, receives and shuts down; a guest's NONBLOCK is emulated
// without touching the shared host description.
func TestSockOnStdioStream(t *testing.T) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	stdout, other := os.NewFile(uintptr(pair[0]), "stdout"), os.NewFile(uintptr(pair[1]), "peer")
	defer stdout.Close()
	defer other.Close()
	h := newHarness(t, Config{Stdout: stdout})
	h.expectErrno(0, "fd_fdstat_get", 1, 100)
	if got := sys.Filetype(h.read(100, 1)[0]); got != sys.FiletypeSocketStream {
		t.Errorf("stdout filetype %d, want SOCKET_STREAM", got)
	}

	h.expectErrno(0, "fd_fdstat_set_flags", 1, uint64(sys.FdflagNonblock))
	if hostNonblock(t, stdout) {
		t.Error("the guest's NONBLOCK changed the shared host description")
	}
	h.writeIovecs(pIov, [2]uint32{pData, 16})
	h.expectErrno(sys.EAGAIN, "sock_recv", 1, pIov, 1, 0, pN, pFlags)
	h.expectErrno(sys.EAGAIN, "fd_read", 1, pIov, 1, pN)

	other.Write([]byte("ping"))
	h.expectErrno(0, "sock_recv", 1, pIov, 1, 0, pN, pFlags)
	h.expectMem(pData, []byte("ping"))
	h.sendBuf("pong")
	h.expectErrno(0, "sock_send", 1, pIov, 1, 0, pN)
	buf := make([]byte, 4)
	other.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := other.Read(buf); err != nil || string(buf[:n]) != "pong" {
		t.Errorf("peer read %q, %v", buf[:n], err)
	}
	h.expectErrno(0, "sock_shutdown", 1, sys.ShutWR)
	if n, err := other.Read(buf); n != 0 || err == nil {
		t.Errorf("peer read after shutdown: %d, %v; want EOF", n, err)
	}
}

// TestSockOnStdioListener: a listening socket as stdin (systemd's Accept=no)
// accepts; with the guest's NONBLOCK and nothing pending, sock_accept is
// EAGAIN at once, not a wait on the blocking host description.
func TestSockOnStdioListener(t *testing.T) {
	stdin := hostSocketFile(t, unix.AF_INET, unix.SOCK_STREAM)
	fd := int(stdin.Fd())
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 8); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*unix.SockaddrInet4).Port}
	h := newHarness(t, Config{Stdin: stdin})

	h.expectErrno(0, "fd_fdstat_set_flags", 0, uint64(sys.FdflagNonblock))
	// Were sock_accept to wait, this connection would end the wait (and
	// the test would see a success instead of hanging).
	timer := time.AfterFunc(3*time.Second, func() {
		if c, err := net.Dial("tcp", addr.String()); err == nil {
			t.Cleanup(func() { c.Close() })
		}
	})
	start := time.Now()
	h.expectErrno(sys.EAGAIN, "sock_accept", 0, 0, pFD)
	if d := time.Since(start); d > time.Second {
		t.Errorf("non-blocking sock_accept took %v", d)
	}
	timer.Stop()
	if hostNonblock(t, stdin) {
		t.Error("the guest's NONBLOCK changed the shared host description")
	}

	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		errno := h.call("sock_accept", 0, 0, pFD)
		if errno == 0 {
			break
		}
		if errno != sys.EAGAIN || time.Now().After(deadline) {
			t.Fatalf("sock_accept = %v", errno)
		}
		time.Sleep(time.Millisecond)
	}
	conn := uint64(h.u32(pFD))
	h.expectErrno(0, "fd_fdstat_get", conn, 100)
	if got := sys.Filetype(h.read(100, 1)[0]); got != sys.FiletypeSocketStream {
		t.Errorf("accepted filetype %d", got)
	}
}
