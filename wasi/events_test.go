//go:build linux || darwin

package wasi

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// eventRecorder collects the socket events of a harness, as lines.
type eventRecorder struct{ lines []string }

func (r *eventRecorder) record(e SocketEvent) { r.lines = append(r.lines, e.String()) }

// take returns the lines recorded since the last take.
func (r *eventRecorder) take() []string {
	l := r.lines
	r.lines = nil
	return l
}

func expectLines(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: events\n got %q\nwant %q", what, got, want)
	}
}

func TestSocketEventString(t *testing.T) {
	for _, c := range []struct {
		e    SocketEvent
		want string
	}{
		{SocketEvent{Call: "bind", Target: "0.0.0.0:3000", Errno: "EADDRINUSE"}, "bind 0.0.0.0:3000: EADDRINUSE"},
		{SocketEvent{Call: "listen", Target: "[::]:80"}, "listen on [::]:80: ok"},
		{SocketEvent{Call: "connect", Target: "10.0.0.1:443", Errno: "EPERM", Why: "denied by the egress policy"},
			"connect to 10.0.0.1:443: EPERM (denied by the egress policy)"},
		{SocketEvent{Call: "accept", Target: "/tmp/s", Errno: "EMFILE"}, "accept on /tmp/s: EMFILE"},
		{SocketEvent{Call: "getaddrinfo", Target: "example.com", Errno: "EAI_NONAME"}, "getaddrinfo example.com: EAI_NONAME"},
		// What the guest chose is quoted unless it is plain text: no
		// line ends, forged lines or terminal escapes reach the log.
		{SocketEvent{Call: "getaddrinfo", Target: "x\nwasmrun: guest: bind 0.0.0.0:22: ok\x1b[2J", Errno: "EAI_NONAME"},
			`getaddrinfo "x\nwasmrun: guest: bind 0.0.0.0:22: ok\x1b[2J": EAI_NONAME`},
		{SocketEvent{Call: "bind", Target: "a b\xff"}, `bind "a b\xff": ok`},
		{SocketEvent{Call: "getaddrinfo", Target: "", Errno: "EAI_NONAME"}, `getaddrinfo "": EAI_NONAME`},
		{SocketEvent{Call: "bind", Target: "/tmp/é.sock"}, "bind /tmp/é.sock: ok"},
	} {
		if got := c.e.String(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.e, got, c.want)
		}
	}
}

// TestSocketEvents drives each reported call to success and to failure.
func TestSocketEvents(t *testing.T) {
	var rec eventRecorder
	egress := Egress{}
	if err := egress.AddDeny("192.0.2.0/24"); err != nil {
		t.Fatal(err)
	}
	if err := egress.AddDeny("denied.example"); err != nil {
		t.Fatal(err)
	}
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte("127.0.0.1 app.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// No nameserver at all: a name not in hosts is never sent anywhere.
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(resolv, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Config{SocketEvents: rec.record, Egress: egress, Hosts: hosts, ResolvConf: resolv})

	taken, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := uint64(taken.Addr().(*net.TCPAddr).Port)
	addr := func(port uint64) string { return "127.0.0.1:" + strconv.FormatUint(port, 10) }

	// bind: in use, then ok; listen.
	fd := h.sockOpen(sys.AFInet4, sys.SockStream)
	h.putAddrV1(ip4Loopback)
	h.expectErrno(sys.EADDRINUSE, "sock_bind", fd, pAddr, takenPort)
	expectLines(t, "bind in use", rec.take(), "bind "+addr(takenPort)+": EADDRINUSE")
	h.expectErrno(0, "sock_bind", fd, pAddr, 0)
	h.expectErrno(0, "sock_listen", fd, 8)
	port := uint64(h.localPort(fd))
	expectLines(t, "bind, listen", rec.take(), "bind 127.0.0.1:0: ok", "listen on "+addr(port)+": ok")

	// accept: EAGAIN is not worth a line, a real failure is.
	h.expectErrno(0, "fd_fdstat_set_flags", fd, uint64(sys.FdflagNonblock))
	h.expectErrno(sys.EAGAIN, "sock_accept", fd, 0, pFD)
	unbound := h.sockOpen(sys.AFInet4, sys.SockStream)
	h.expectErrno(sys.EINVAL, "sock_accept", unbound, 0, pFD)
	expectLines(t, "accept", rec.take(), "accept on 0.0.0.0:0: EINVAL")

	// connect, blocking: ok, refused, denied by the policy.
	c := h.sockOpen(sys.AFInet4, sys.SockStream)
	h.expectErrno(0, "sock_connect", c, pAddr, port)
	closed := uint64(sockFreePort(t))
	h.expectErrno(sys.ECONNREFUSED, "sock_connect", h.sockOpen(sys.AFInet4, sys.SockStream), pAddr, closed)
	h.putAddrV1([]byte{192, 0, 2, 1})
	h.expectErrno(sys.EPERM, "sock_connect", h.sockOpen(sys.AFInet4, sys.SockStream), pAddr, 80)
	expectLines(t, "blocking connects", rec.take(),
		"connect to "+addr(port)+": ok",
		"connect to "+addr(closed)+": ECONNREFUSED",
		"connect to 192.0.2.1:80: EPERM (denied by the egress policy)")

	// connect, non-blocking: one line, when SO_ERROR tells the outcome
	// (or at once, when the kernel knew at once).
	soError := func(fd uint64) sys.Errno {
		t.Helper()
		f, _ := h.sys.Lookup(int32(fd))
		pfd := []unix.PollFd{{Fd: int32(f.Fd), Events: unix.POLLOUT}}
		if _, err := unix.Poll(pfd, 10000); err != nil {
			t.Fatal(err)
		}
		h.expectErrno(0, "sock_getsockopt", fd, sys.SolSocket, sys.SoError, pN, 4)
		return sys.Errno(h.u32(pN))
	}
	for _, tc := range []struct {
		port uint64
		want string
	}{{port, "ok"}, {closed, "ECONNREFUSED"}} {
		nb := h.sockOpen(sys.AFInet4, sys.SockStream)
		h.expectErrno(0, "fd_fdstat_set_flags", nb, uint64(sys.FdflagNonblock))
		h.putAddrV1(ip4Loopback)
		if errno := h.call("sock_connect", nb, pAddr, tc.port); errno == sys.EINPROGRESS {
			expectLines(t, "connect in progress", rec.take())
		}
		soError(nb)
		soError(nb) // read again: nothing new
		expectLines(t, "non-blocking connect", rec.take(), "connect to "+addr(tc.port)+": "+tc.want)
	}
	// The other way to learn the outcome: connect again.
	nb := h.sockOpen(sys.AFInet4, sys.SockStream)
	h.expectErrno(0, "fd_fdstat_set_flags", nb, uint64(sys.FdflagNonblock))
	h.putAddrV1(ip4Loopback)
	if errno := h.call("sock_connect", nb, pAddr, port); errno == sys.EINPROGRESS {
		f, _ := h.sys.Lookup(int32(nb))
		unix.Poll([]unix.PollFd{{Fd: int32(f.Fd), Events: unix.POLLOUT}}, 10000)
		if errno := h.call("sock_connect", nb, pAddr, port); errno != 0 && errno != sys.EISCONN {
			t.Errorf("connect again = %v", errno)
		}
	}
	expectLines(t, "connect again", rec.take(), "connect to "+addr(port)+": ok")

	// getaddrinfo: found, not found, refused by the policy.
	h.prepareList(4)
	if errno := h.gai("app.test", "80", 0, sys.AFInet4, sys.SockStream, 4); errno != 0 {
		t.Fatalf("getaddrinfo app.test = %v", errno)
	}
	h.gai("not-an-address", "", sys.AINumerichost, 0, 0, 4)
	h.gai("denied.example", "", 0, 0, 0, 4)
	h.gai("x\nwasmrun: forged\x1b[2J", "", sys.AINumerichost, 0, 0, 4) // a guest writing to the operator's terminal
	expectLines(t, "getaddrinfo", rec.take(),
		"getaddrinfo app.test: ok",
		"getaddrinfo not-an-address: EAI_NONAME",
		"getaddrinfo denied.example: EAI_FAIL (the name is denied by the egress policy)",
		`getaddrinfo "x\nwasmrun: forged\x1b[2J": EAI_NONAME`)
}

// TestSocketEventsUnix: Unix sockets are reported by their guest paths.
func TestSocketEventsUnix(t *testing.T) {
	var rec eventRecorder
	h := newHarness(t, Config{SocketEvents: rec.record})
	fd := h.sockOpen(sys.AFUnix, sys.SockStream)
	h.putAddrV2(sys.AFUnix, nil, "s.sock")
	h.expectErrno(0, "sock_bind", fd, pAddr, 0)
	h.expectErrno(0, "sock_listen", fd, 8)
	c := h.sockOpen(sys.AFUnix, sys.SockStream)
	h.putAddrV2(sys.AFUnix, nil, "missing.sock")
	h.expectErrno(sys.ENOENT, "sock_connect", c, pAddr, 0)
	expectLines(t, "unix", rec.take(), "bind s.sock: ok", "listen on s.sock: ok", "connect to missing.sock: ENOENT")
}
