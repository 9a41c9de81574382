package integration

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// TestSockRustMixed: a Rust std guest with the mixed shape (V1 accept and
// getlocaladdr/getpeeraddr, V2 recv_from, getsockopt with a length pointer)
// serves TCP echo to Go clients and echoes one UDP datagram.
func TestSockRustMixed(t *testing.T) {
	wasm := guests.Rust(t, "sock_echo")
	t.Run("tcp", func(t *testing.T) {
		g := startSockGuest(t, "run", wasm, "--", "tcp-server", "127.0.0.1", "2")
		if got := g.expect("sotype"); got != "2" {
			t.Errorf("SO_TYPE = %s, want 2", got)
		}
		addr := "127.0.0.1:" + g.expect("listening")
		for _, msg := range []string{"rust", strings.Repeat("0123456789", 2000)} {
			if got := echoOnce(t, "tcp", addr, msg); got != msg {
				t.Errorf("echo of %d bytes came back as %d", len(msg), len(got))
			}
			g.expect("peer")
		}
		g.expect("done")
		g.wait()
	})
	t.Run("udp", func(t *testing.T) {
		peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Close()
		g := startSockGuest(t, "run", wasm, "--", "udp-server", "127.0.0.1")
		if got := g.expect("sotype"); got != "1" {
			t.Errorf("SO_TYPE = %s, want 1", got)
		}
		dst, err := net.ResolveUDPAddr("udp4", "127.0.0.1:"+g.expect("listening"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := peer.WriteTo([]byte("rust udp"), dst); err != nil {
			t.Fatal(err)
		}
		if got, want := g.expect("from"), strconv.Itoa(peer.LocalAddr().(*net.UDPAddr).Port); got != want {
			t.Errorf("recv_from port %s, want %s", got, want)
		}
		peer.SetReadDeadline(time.Now().Add(sockWait))
		buf := make([]byte, 64)
		n, _, err := peer.ReadFrom(buf)
		if err != nil || string(buf[:n]) != "rust udp" {
			t.Errorf("echo %q, %v", buf[:n], err)
		}
		g.wait()
	})
}

// TestSockRustStdPreopenedListener: Rust std alone (preview1 sock_accept,
// then reads and writes) on the listener `wasmrun run --listen` preopens
// at fd 3.
func TestSockRustStdPreopenedListener(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t, "tcp"))
	g := startSockGuest(t, "run", "--listen", addr, guests.Rust(t, "sock_std"), "--", "2")
	g.expect("serving")
	for _, msg := range []string{"std", strings.Repeat("x", 50000)} {
		if got := echoOnce(t, "tcp", addr, msg); got != msg {
			t.Errorf("echo of %d bytes came back as %d", len(msg), len(got))
		}
	}
	g.expect("done")
	g.wait()
}
