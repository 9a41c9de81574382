package sys

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/cni/procnet"
)

// enterNetns moves the calling goroutine, locked to its thread for good
// (the thread, and the namespace with it, go when the goroutine ends), into
// a new network namespace and runs ip(8) there with each of cmds.
func enterNetns(cmds ...[]string) error {
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return err
	}
	for _, args := range append([][]string{{"link", "set", "lo", "up"}}, cmds...) {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// TestOutside: a guest in a namespace with loopback only reaches a server
// of the "host" (another namespace, with the address 10.77.0.1) through
// host sockets, with the options it set and its descriptor unchanged;
// loopback stays its own; a socket it bound stays in; a host socket never
// goes to loopback; Blocked addresses are refused unless an allow entry
// names them.
func TestOutside(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip(8)")
	}
	// The host: its socket maker runs on its thread, and makes sockets
	// as procnet's does (its tests check the rest of what that does): a
	// stream one connecting, a datagram one relayed (procnet's relay,
	// without a policy).
	type req struct {
		HostSocket
		reply chan int
	}
	reqs := make(chan req)
	var made atomic.Int32
	var tcp net.Listener
	var udp net.PacketConn
	var closedPort uint16
	hostReady := make(chan error, 1)
	go func() {
		err := enterNetns([]string{"link", "add", "d0", "type", "veth", "peer", "name", "d1"}, []string{"addr", "add", "10.77.0.1/24", "dev", "d0"}, []string{"link", "set", "d0", "up"}, []string{"link", "set", "d1", "up"})
		if err != nil {
			hostReady <- err
			return
		}
		if tcp, err = net.Listen("tcp", "10.77.0.1:0"); err == nil {
			udp, err = net.ListenPacket("udp", "10.77.0.1:0")
		}
		if err == nil { // a port nothing listens on
			var l net.Listener
			if l, err = net.Listen("tcp", "10.77.0.1:0"); err == nil {
				closedPort = uint16(l.Addr().(*net.TCPAddr).Port)
				l.Close()
			}
		}
		hostReady <- err
		for r := range reqs {
			made.Add(1)
			if r.Type == unix.SOCK_DGRAM {
				fd, err := procnet.NewRelay(r.Domain, r.V6Only, &procnet.Policy{})
				if err != nil {
					fd = -1
				}
				r.reply <- fd
				continue
			}
			fd, err := unix.Socket(r.Domain, r.Type|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
			if err == nil {
				err = unix.Connect(fd, &unix.SockaddrInet4{Addr: r.To.Addr().As4(), Port: int(r.To.Port())})
				if err == unix.EINPROGRESS {
					err = nil
				}
			}
			if err == nil {
				err = unix.SetNonblock(fd, false)
			}
			if err != nil {
				unix.Close(fd)
				fd = -1
			}
			r.reply <- fd
		}
	}()
	defer close(reqs)
	if err := <-hostReady; err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	defer udp.Close()
	tcpAddr := netip.MustParseAddrPort(tcp.Addr().String())
	udpAddr := netip.MustParseAddrPort(udp.LocalAddr().String())
	accepted := make(chan struct{}, 4)
	go func() {
		for {
			c, err := tcp.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	socket := func(h HostSocket) (int, error) {
		r := req{h, make(chan int)}
		reqs <- r
		if fd := <-r.reply; fd >= 0 {
			return fd, nil
		}
		return -1, unix.EMFILE
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := enterNetns(); err != nil {
			t.Error(err)
			return
		}
		blockedList := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		s := &System{Outside: &Outside{
			Socket:  socket,
			Inside:  []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
			Blocked: func() []netip.Prefix { return blockedList },
		}}
		defer s.Close()
		open := func(st SockType) int32 {
			fd, errno := s.SockOpen(AFInet4, st)
			if errno != 0 {
				t.Error(errno)
			}
			return fd
		}
		at := func(ap netip.AddrPort) Addr { return Addr{Family: AFInet4, IP: ap.Addr(), Port: ap.Port()} }

		// Out, with an option set before and non-blocking mode.
		fd := open(SockStream)
		if errno := s.SockSetOpt(fd, SolSocket, SoKeepalive, []byte{1, 0, 0, 0}); errno != 0 {
			t.Error(errno)
			return
		}
		before, _ := s.Lookup(fd)
		hostFd := before.Fd
		if errno := s.SockConnect(fd, at(tcpAddr)); errno != 0 {
			t.Errorf("connect to the host's server: %v", errno)
			return
		}
		<-accepted
		f, _ := s.Lookup(fd)
		if f.Fd == hostFd || !f.Sock.outside || made.Load() != 1 {
			t.Errorf("not moved to a host socket: fd %d (was %d), outside %v, %d made", f.Fd, hostFd, f.Sock.outside, made.Load())
		}
		if v, err := unix.GetsockoptInt(f.Fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE); err != nil || v != 1 {
			t.Errorf("SO_KEEPALIVE on the host socket: %d, %v", v, err)
		}

		// Refused by the host, then connected elsewhere: the failed host
		// socket is held to where it went, so the second connect takes a
		// new one. A non-blocking connect reports as one does (the host
		// socket came connecting).
		fd = open(SockStream)
		if errno := s.SockConnect(fd, at(netip.AddrPortFrom(tcpAddr.Addr(), closedPort))); errno != ECONNREFUSED {
			t.Errorf("connect to a closed port of the host: %v, want ECONNREFUSED", errno)
		}
		// A host socket is never bound by the guest: its ports are the
		// host's (a guest would take them from the host's services).
		if errno := s.SockBind(fd, Addr{Family: AFInet4, IP: netip.IPv4Unspecified(), Port: 7777}); errno != EINVAL {
			t.Errorf("bind of a host stream socket: %v, want EINVAL", errno)
		}
		n0 := made.Load()
		if errno := s.SockConnect(fd, at(tcpAddr)); errno != 0 || made.Load() != n0+1 {
			t.Errorf("connect again, to the host's server: %v, %d host sockets made, want success and 1", errno, made.Load()-n0)
		}
		<-accepted
		fd = open(SockStream)
		if errno := s.SetFlags(fd, FdflagNonblock); errno != 0 {
			t.Error(errno)
			return
		}
		// Nothing answers at 10.77.0.5 (no neighbour): the connect stays
		// in progress.
		if errno := s.SockConnect(fd, at(netip.MustParseAddrPort("10.77.0.5:80"))); errno != EINPROGRESS {
			t.Errorf("non-blocking connect to an address nothing answers: %v, want EINPROGRESS", errno)
		}
		if errno := s.SockConnect(fd, at(netip.MustParseAddrPort("10.77.0.5:80"))); errno != EALREADY {
			t.Errorf("connect again while in progress: %v, want EALREADY", errno)
		}

		// Its own loopback: stays in (nothing listens there).
		fd = open(SockStream)
		if errno := s.SockConnect(fd, at(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), tcpAddr.Port()))); errno != ECONNREFUSED {
			t.Errorf("connect to its own loopback: %v, want ECONNREFUSED", errno)
		}

		// A datagram out, through the maker's relay, and the answer back
		// from its sender, at the address the socket reports as its own;
		// then the socket must not reach loopback.
		fd = open(SockDgram)
		if _, errno := s.SockSendTo(fd, [][]byte{[]byte("hi")}, at(udpAddr), 0); errno != 0 {
			t.Errorf("send_to the host's server: %v", errno)
		}
		udp.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 16)
		k, from, err := udp.ReadFrom(buf)
		if err != nil || string(buf[:k]) != "hi" {
			t.Errorf("the host's server got %q, %v", buf[:k], err)
		} else if _, err := udp.WriteTo([]byte("answer"), from); err != nil {
			t.Error(err)
		}
		got := make([]byte, 4)
		if k, roflags, src, errno := s.SockRecvFrom(fd, [][]byte{got}, 0); errno != 0 || string(got[:k]) != "answ" ||
			roflags != RoflagDataTrunc || src.IP != udpAddr.Addr() || src.Port != udpAddr.Port() {
			t.Errorf("recv_from: %q %v from %v: %v; want \"answ\", truncated, from %v", got[:k], roflags, src, errno, udpAddr)
		}
		if local, errno := s.SockLocalAddr(fd); errno != 0 || from == nil || local.Port != uint16(from.(*net.UDPAddr).Port) {
			t.Errorf("the socket's own address %v (%v); the server saw %v", local, errno, from)
		}
		if _, errno := s.SockSendTo(fd, [][]byte{[]byte("hi")}, Addr{Family: AFInet4, IP: netip.IPv4Unspecified(), Port: 9}, 0); errno != EHOSTUNREACH {
			t.Errorf("send_to 0.0.0.0 from a host socket: %v, want EHOSTUNREACH", errno)
		}
		if errno := s.SockBind(fd, Addr{Family: AFInet4, IP: netip.IPv4Unspecified(), Port: 7778}); errno != EINVAL {
			t.Errorf("bind of a relayed datagram socket: %v, want EINVAL", errno)
		}

		// A socket bound to a port stays in: this namespace has no route.
		fd = open(SockDgram)
		if errno := s.SockBind(fd, Addr{Family: AFInet4, IP: netip.IPv4Unspecified(), Port: 5000}); errno != 0 {
			t.Error(errno)
			return
		}
		n := made.Load()
		if _, errno := s.SockSendTo(fd, [][]byte{[]byte("hi")}, at(udpAddr), 0); errno != ENETUNREACH || made.Load() != n {
			t.Errorf("send_to from a bound socket: %v (%d host sockets made), want ENETUNREACH and none", errno, made.Load()-n)
		}

		// Bound to any address and port 0, as Node does before a send:
		// still a client, so it goes out.
		fd = open(SockDgram)
		if errno := s.SockBind(fd, Addr{Family: AFInet4, IP: netip.IPv4Unspecified()}); errno != 0 {
			t.Error(errno)
			return
		}
		if _, errno := s.SockSendTo(fd, [][]byte{[]byte("hi")}, at(udpAddr), 0); errno != 0 {
			t.Errorf("send_to from a socket bound to 0.0.0.0:0: %v", errno)
		}

		// The host gains the address while the socket moves: the list
		// that came with the host socket is checked, and nothing is sent.
		s.Outside.Socket = func(h HostSocket) (int, error) {
			blockedList = append(blockedList, netip.MustParsePrefix("10.77.0.1/32"))
			return socket(h)
		}
		if errno := s.SockConnect(open(SockStream), at(tcpAddr)); errno != EHOSTUNREACH {
			t.Errorf("connect to an address blocked as the socket moved: %v, want EHOSTUNREACH", errno)
		}
		s.Outside.Socket = socket

		// Blocked (as the host's own address is), unless an allow entry
		// names it.
		blocked := at(tcpAddr)
		if errno := s.SockConnect(open(SockStream), blocked); errno != EHOSTUNREACH {
			t.Errorf("connect to a blocked address: %v, want EHOSTUNREACH", errno)
		}
		s.Egress = &Egress{Allow: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}
		if errno := s.SockConnect(open(SockStream), blocked); errno != EHOSTUNREACH {
			t.Errorf("connect to a blocked address under allow 0.0.0.0/0: %v, want EHOSTUNREACH", errno)
		}
		s.Egress = &Egress{Allow: []netip.Prefix{netip.MustParsePrefix("10.77.0.1/32")}}
		if errno := s.SockConnect(open(SockStream), blocked); errno != 0 {
			t.Errorf("connect to a blocked address an allow entry names: %v", errno)
		}
		<-accepted
	}()
	<-done
}
