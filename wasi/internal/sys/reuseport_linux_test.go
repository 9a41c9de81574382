package sys

import (
	"net/netip"
	"testing"
)

// TestReusePort: two Systems with ReusePort (two instances of an app) both
// bind and listen on one port; without it the second bind is EADDRINUSE.
// Port 0 is left alone: it stays a fresh port of the socket's own.
func TestReusePort(t *testing.T) {
	listen := func(reuse bool, port uint16) (*System, uint16, Errno) {
		t.Helper()
		s, err := New(nil, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		s.ReusePort = reuse
		fd, errno := s.SockOpen(AFInet4, SockStream)
		if errno != 0 {
			t.Fatal(errno.Name())
		}
		if errno := s.SockBind(fd, Addr{Family: AFInet4, IP: netip.MustParseAddr("127.0.0.1"), Port: port}); errno != 0 {
			return s, 0, errno
		}
		if errno := s.SockListen(fd, 8); errno != 0 {
			t.Fatalf("listen: %s", errno.Name())
		}
		a, errno := s.SockLocalAddr(fd)
		if errno != 0 {
			t.Fatal(errno.Name())
		}
		return s, a.Port, 0
	}
	_, port, errno := listen(true, 0)
	if errno != 0 {
		t.Fatalf("bind port 0: %s", errno.Name())
	}
	if _, _, errno := listen(true, port); errno != EADDRINUSE {
		t.Errorf("bind of port %d taken by a port-0 bind = %s, want EADDRINUSE", port, errno.Name())
	}

	// A port of the app's choice (a free one), bound by one instance,
	// then another.
	free, port2, errno := listen(false, 0)
	if errno != 0 {
		t.Fatal(errno.Name())
	}
	free.Close()
	if _, _, errno := listen(true, port2); errno != 0 {
		t.Fatalf("first instance: bind %d = %s", port2, errno.Name())
	}
	if _, _, errno := listen(true, port2); errno != 0 {
		t.Errorf("second instance with ReusePort: bind %d = %s, want success", port2, errno.Name())
	}
	if _, _, errno := listen(false, port2); errno != EADDRINUSE {
		t.Errorf("a System without ReusePort: bind %d = %s, want EADDRINUSE", port2, errno.Name())
	}
}
