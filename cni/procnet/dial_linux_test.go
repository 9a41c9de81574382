package procnet

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestFDDialerChecks: what a ServeDial sends back is relayed to the host's
// clients only if it is what was asked for, a connected socket of that
// kind to the guest's loopback; a container process that sends anything
// else (a pipe, a Unix socket, a UDP socket for TCP, an unconnected one)
// gets an error, and the descriptor is closed.
func TestFDDialerChecks(t *testing.T) {
	l := listen(t, "tcp4", "127.0.0.1:0")
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	connectedTo := func(l net.Listener) func() int {
		return func() int {
			fd, _ := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			ap := addrPort(l)
			if err := unix.Connect(fd, &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}); err != nil {
				t.Fatal(err)
			}
			return fd
		}
	}
	connected4 := connectedTo(l)
	pipe := func() int {
		var p [2]int
		unix.Pipe2(p[:], unix.O_CLOEXEC)
		unix.Close(p[1])
		return p[0]
	}
	unixSock := func() int {
		p, _ := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		unix.Close(p[1])
		return p[0]
	}
	udp := func() int {
		fd, _ := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		unix.Connect(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: 9})
		return fd
	}
	unconnected := func() int {
		fd, _ := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		return fd
	}
	for _, tc := range []struct {
		name string
		make func() int
		want string // in the error; "" for none
	}{
		{"tcp to loopback", connected4, ""},
		{"pipe", pipe, "not a socket"},
		{"unix socket", unixSock, "domain 1"},
		{"udp for tcp", udp, "type 2"},
		{"unconnected", unconnected, "not connected"},
	} {
		host, inside, err := DialSocketPair()
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer inside.Close()
			c, err := unixConn(inside)
			if err != nil {
				return
			}
			defer c.Close()
			buf := make([]byte, 512)
			if _, _, _, _, err := c.ReadMsgUnix(buf, nil); err != nil {
				return
			}
			fd := tc.make()
			c.WriteMsgUnix([]byte("ok 1"), unix.UnixRights(fd), nil)
			unix.Close(fd)
		}()
		dial, closeDial, err := FDDialer(host)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := dial("tcp", addrPort(l).String())
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
		if conn != nil {
			if _, ok := conn.(*net.TCPConn); !ok {
				t.Errorf("%s: got a %T", tc.name, conn)
			}
			conn.Close()
		}
		closeDial()
		host.Close()
	}
}

// TestFDDialerLateReply: a dial that gave up waiting (a stalled process
// inside) does not leave its late reply for the next one: the next dial,
// to another port, gets its own connection, not the late one's.
func TestFDDialerLateReply(t *testing.T) {
	defer func(w time.Duration) { replyWait = w }(replyWait)
	replyWait = 200 * time.Millisecond
	slow, fast := listen(t, "tcp4", "127.0.0.1:0"), listen(t, "tcp4", "127.0.0.1:0")
	host, inside, err := DialSocketPair()
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	first := true
	go serveDial(inside, func(network, address string) (net.Conn, error) {
		if first {
			first = false
			<-release
		}
		return net.Dial(network, address)
	})
	dial, closeDial, err := FDDialer(host)
	if err != nil {
		t.Fatal(err)
	}
	defer closeDial()
	if c, err := dial("tcp", addrPort(slow).String()); err == nil {
		c.Close()
		t.Fatal("the stalled dial did not time out")
	}
	close(release)
	c, err := dial("tcp", addrPort(fast).String())
	if err != nil {
		t.Fatalf("the next dial: %v", err)
	}
	defer c.Close()
	if got := c.RemoteAddr().(*net.TCPAddr).Port; got != int(addrPort(fast).Port()) {
		t.Errorf("the next dial got a connection to port %d, want %d", got, addrPort(fast).Port())
	}
}

// TestFDDialerEmptyReply: a reply of no bytes with a descriptor (it reads
// as EOF) fails the dial, and the descriptor it carried is closed, not
// left open in the host's process one per dial.
func TestFDDialerEmptyReply(t *testing.T) {
	host, inside, err := DialSocketPair()
	if err != nil {
		t.Fatal(err)
	}
	defer inside.Close()
	go func() {
		buf := make([]byte, 512)
		for {
			if _, err := unix.Read(int(inside.Fd()), buf); err != nil {
				return
			}
			// sendmsg of no bytes with SCM_RIGHTS (unix.Sendmsg would add
			// a byte).
			oob := unix.UnixRights(0)
			msg := unix.Msghdr{Control: &oob[0]}
			msg.SetControllen(len(oob))
			unix.Syscall(unix.SYS_SENDMSG, inside.Fd(), uintptr(unsafe.Pointer(&msg)), 0)
		}
	}()
	dial, closeDial, err := FDDialer(host)
	if err != nil {
		t.Fatal(err)
	}
	defer closeDial()
	count := func() int {
		ents, _ := os.ReadDir("/proc/self/fd")
		return len(ents)
	}
	before := count()
	for range 50 {
		if c, err := dial("tcp", "127.0.0.1:3000"); err == nil {
			c.Close()
			t.Fatal("an empty reply made a connection")
		}
	}
	if after := count(); after > before+2 {
		t.Errorf("%d descriptors open after 50 empty replies, %d before", after, before)
	}
}

// TestFDDialerLinger: a socket sent back with a long linger time and data
// it cannot send (its peer reads nothing) does not make the host's close
// of it wait: the dialer clears the linger of what it receives.
func TestFDDialerLinger(t *testing.T) {
	l := listen(t, "tcp4", "127.0.0.1:0")
	lf, _ := l.(*net.TCPListener).File()
	unix.SetsockoptInt(int(lf.Fd()), unix.SOL_SOCKET, unix.SO_RCVBUF, 4096)
	lf.Close()
	host, inside, err := DialSocketPair()
	if err != nil {
		t.Fatal(err)
	}
	defer inside.Close()
	go func() {
		c, err := unixConn(inside)
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 512)
		if _, _, _, _, err := c.ReadMsgUnix(buf, nil); err != nil {
			return
		}
		fd, _ := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
		ap := addrPort(l)
		if err := unix.Connect(fd, &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}); err != nil {
			return
		}
		unix.SetNonblock(fd, true)
		for { // until the window is shut: the peer reads nothing
			if _, err := unix.Write(fd, make([]byte, 1024)); err != nil {
				break
			}
		}
		unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 1 << 30})
		unix.SetNonblock(fd, false)
		c.WriteMsgUnix([]byte("ok 1"), unix.UnixRights(fd), nil)
		unix.Close(fd)
	}()
	dial, closeDial, err := FDDialer(host)
	if err != nil {
		t.Fatal(err)
	}
	defer closeDial()
	conn, err := dial("tcp", addrPort(l).String())
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() { conn.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("closing the socket the process inside sent waits on its linger")
	}
}
