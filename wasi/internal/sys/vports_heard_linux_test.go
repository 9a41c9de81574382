package sys

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"testing"
)

// TestVirtualPortsUDPHeard: under simulated isolation, an app's client
// datagram socket (a host socket on every host address) hears only the
// destinations it sent to: a datagram another socket sends it first is
// dropped, the destination's reply comes, and a peek does not get stuck
// on the dropped one.
func TestVirtualPortsUDPHeard(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (a network namespace)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip(8)")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := enterNetns([]string{"link", "add", "h0", "type", "veth", "peer", "name", "h1"}, []string{"addr", "add", "10.78.0.1/24", "dev", "h0"}, []string{"link", "set", "h0", "up"}, []string{"link", "set", "h1", "up"})
		if err != nil {
			t.Error(err)
			return
		}
		peer, err := net.ListenPacket("udp4", "10.78.0.1:0")
		if err != nil {
			t.Error(err)
			return
		}
		defer peer.Close()
		other, err := net.ListenPacket("udp4", "10.78.0.1:0")
		if err != nil {
			t.Error(err)
			return
		}
		defer other.Close()
		s := &System{VPorts: NewVirtualPorts(nil, nil)}
		defer s.Close()
		cli, errno := s.SockOpen(AFInet4, SockDgram)
		if errno != 0 {
			t.Error(errno)
			return
		}
		to := netip.MustParseAddrPort(peer.LocalAddr().String())
		if _, errno := s.SockSendTo(cli, [][]byte{[]byte("hi")}, Addr{Family: AFInet4, IP: to.Addr(), Port: to.Port()}, 0); errno != 0 {
			t.Error(errno)
			return
		}
		buf := make([]byte, 16)
		_, from, err := peer.ReadFrom(buf)
		if err != nil {
			t.Error(err)
			return
		}
		for _, step := range []struct {
			c   net.PacketConn
			msg string
		}{{other, "spoof"}, {peer, "reply"}, {other, "spoof"}, {peer, "again"}} {
			if _, err := step.c.WriteTo([]byte(step.msg), from); err != nil {
				t.Error(err)
				return
			}
		}
		n, _, src, errno := s.SockRecvFrom(cli, [][]byte{buf}, RiflagRecvPeek)
		if errno != 0 || string(buf[:n]) != "reply" || src.AddrPort() != to {
			t.Errorf("peek: %q from %v (%v), want reply from %v", buf[:n], src, errno, to)
		}
		for _, want := range []string{"reply", "again"} {
			n, _, src, errno = s.SockRecvFrom(cli, [][]byte{buf}, 0)
			if errno != 0 || string(buf[:n]) != want || src.AddrPort() != to {
				t.Errorf("recv: %q from %v (%v), want %s from %v", buf[:n], src, errno, want, to)
			}
		}
		// fd_read, which has no source to report, filters the same.
		other.WriteTo([]byte("spoof"), from)
		peer.WriteTo([]byte("read"), from)
		if k, errno := s.Read(cli, [][]byte{buf}); errno != 0 || string(buf[:k]) != "read" {
			t.Errorf("fd_read: %q (%v), want read", buf[:k], errno)
		}
		// A connected socket hears its peer (and only it, as the kernel
		// has it): connect, send, the reply comes.
		con, _ := s.SockOpen(AFInet4, SockDgram)
		if errno := s.SockConnect(con, Addr{Family: AFInet4, IP: to.Addr(), Port: to.Port()}); errno != 0 {
			t.Error(errno)
			return
		}
		if _, errno := s.SockSend(con, [][]byte{[]byte("hi")}, 0); errno != 0 {
			t.Error(errno)
			return
		}
		_, cfrom, err := peer.ReadFrom(buf)
		if err != nil {
			t.Error(err)
			return
		}
		peer.WriteTo([]byte("connected"), cfrom)
		s.SetFlags(con, FdflagNonblock) // queued by now: a dropped reply is EAGAIN, not a hang
		if k, _, errno := s.SockRecv(con, [][]byte{buf}, 0); errno != 0 || string(buf[:k]) != "connected" {
			t.Errorf("a connected socket's recv: %q (%v), want its peer's reply", buf[:k], errno)
		}
	}()
	<-done
}
