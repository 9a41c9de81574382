//go:build linux || darwin

package wasi

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// TestSockUnix binds, connects and exchanges datagrams on Unix sockets whose
// paths live in the preopen, and checks that paths cannot leave it.
func TestSockUnix(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "escape")); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Config{Preopens: []Preopen{{HostPath: dir, GuestPath: "/data"}}})

	srv := h.sockOpen(sys.AFUnix, sys.SockStream)
	h.putAddrV2(sys.AFUnix, nil, "/data/sub/s.sock")
	h.expectErrno(0, "sock_bind", srv, pAddr, 0)
	if st, err := os.Stat(filepath.Join(dir, "sub", "s.sock")); err != nil || st.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket file not created in the preopen: %v", err)
	}
	h.expectErrno(0, "sock_listen", srv, 4)
	h.fill(0xaa)
	h.outAddr(addrBufSize)
	h.expectErrno(0, "sock_getlocaladdr", srv, pAddr, pPort)
	want := append([]byte{3, 0}, "/data/sub/s.sock"...)
	h.expectMem(pAddrBuf, append(want, 0, 0))

	// A host client connects to the host path; the guest accepts.
	c, err := net.Dial("unix", filepath.Join(dir, "sub", "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h.expectErrno(0, "sock_accept", srv, 0, pFD)
	conn := uint64(h.u32(pFD))
	c.Write([]byte("hi"))
	h.writeIovecs(pIov, [2]uint32{pData, 8})
	h.expectErrno(0, "sock_recv", conn, pIov, 1, 0, pN, pFlags)
	h.expectMem(pData, []byte("hi"))

	// A guest client connects by guest path.
	cli := h.sockOpen(sys.AFUnix, sys.SockStream)
	h.putAddrV2(sys.AFUnix, nil, "/data/sub/s.sock")
	h.expectErrno(0, "sock_connect", cli, pAddr, 0)
	h.outAddr(addrBufSize)
	h.expectErrno(0, "sock_getpeeraddr", cli, pAddr, pPort)
	h.expectMem(pAddrBuf, append(want, 0))

	// Escapes and misses.
	for _, tc := range []struct {
		path string
		want sys.Errno
	}{
		{"/data/escape/x.sock", sys.ENOTCAPABLE}, // symlink out of the preopen
		{"/data/../etc/x.sock", sys.ENOTCAPABLE}, // no preopen for /etc
		{"/other/x.sock", sys.ENOTCAPABLE},       // no preopen
		{"x.sock", sys.ENOTCAPABLE},              // relative, no "." or "/" preopen
		{"/data/nodir/x.sock", sys.ENOENT},       // parent missing
		{"/data/sub/s.sock", sys.EADDRINUSE},     // exists
		{"/data/" + strings.Repeat("a", 110), sys.ENAMETOOLONG},
	} {
		fd := h.sockOpen(sys.AFUnix, sys.SockStream)
		h.putAddrV2(sys.AFUnix, nil, tc.path)
		h.expectErrno(tc.want, "sock_bind", fd, pAddr, 0)
		h.expectErrno(0, "fd_close", fd)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("a socket was created outside the preopen: %v", entries)
	}
	// Connecting through a symlink leaving the preopen fails too.
	l, err := net.Listen("unix", filepath.Join(outside, "host.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fd := h.sockOpen(sys.AFUnix, sys.SockStream)
	h.putAddrV2(sys.AFUnix, nil, "/data/escape/host.sock")
	h.expectErrno(sys.ENOTCAPABLE, "sock_connect", fd, pAddr, 0)

	// Unix datagrams between two guest sockets, relative to a "." preopen.
	h2 := newHarness(t, Config{Preopens: []Preopen{{HostPath: dir, GuestPath: "."}}})
	a := h2.sockOpen(sys.AFUnix, sys.SockDgram)
	b := h2.sockOpen(sys.AFUnix, sys.SockDgram)
	h2.putAddrV2(sys.AFUnix, nil, "a.sock")
	h2.expectErrno(0, "sock_bind", a, pAddr, 0)
	h2.putAddrV2(sys.AFUnix, nil, "sub/b.sock")
	h2.expectErrno(0, "sock_bind", b, pAddr, 0)
	h2.sendBuf("dgram")
	h2.expectErrno(0, "sock_send_to", a, pIov, 1, pAddr, 0, 0, pN)
	h2.fill(0)
	h2.outAddr(addrBufSize)
	h2.writeIovecs(pIov, [2]uint32{pData, 16})
	h2.expectErrno(0, "sock_recv_from", b, pIov, 1, pAddr, 0, pPort, pN, pFlags)
	h2.expectMem(pData, []byte("dgram\x00"))
	h2.expectMem(pAddrBuf, []byte("\x03\x00a.sock\x00"))
}

// TestSockListeners hands the guest a host listener after the preopens.
func TestSockListeners(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	lf, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	h := newHarness(t, Config{Listeners: []*os.File{lf}})
	const fd = harnessPreopenFD + 1
	h.expectErrno(0, "fd_fdstat_get", fd, 100)
	if got := sys.Filetype(h.read(100, 1)[0]); got != sys.FiletypeSocketStream {
		t.Fatalf("listener filetype %d", got)
	}
	h.expectErrno(sys.EBADF, "fd_prestat_get", fd, 200)
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h.expectErrno(0, "sock_accept", fd, 0, pFD)
	conn := uint64(h.u32(pFD))
	h.outAddr(addrBufSize)
	h.expectErrno(0, "sock_getlocaladdr", fd, pAddr, pPort)
	if got := h.u32(pPort); got != uint32(l.Addr().(*net.TCPAddr).Port) {
		t.Errorf("listener port %d", got)
	}
	h.sendBuf("x")
	h.expectErrno(0, "fd_write", conn, pIov, 1, pN)
	buf := make([]byte, 1)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil || !bytes.Equal(buf, []byte("x")) {
		t.Fatalf("read %q, %v", buf, err)
	}
}
