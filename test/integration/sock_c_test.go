package integration

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// The C socket guest (testdata/c/sock_echo.c) declares the extension's
// imports by hand, compiled once per shape: all-V1, all-V2, and the mixed
// shape of the popular Rust crate. Each shape serves TCP (IPv4 and IPv6) to
// a Go client, dials a Go server, echoes UDP, and serves Unix stream and
// datagram sockets in a preopened directory.

var sockShapes = []string{"V1", "V2", "MIXED"}

func sockEcho(t testing.TB, shape string) string {
	return guests.C(t, "sock_echo", "-DSHAPE_"+shape)
}

func TestSockCTCP(t *testing.T) {
	for _, shape := range sockShapes {
		t.Run(shape, func(t *testing.T) {
			t.Parallel()
			wasm := sockEcho(t, shape)
			hosts := []string{"127.0.0.1"}
			if hasIPv6Loopback() {
				hosts = append(hosts, "::1")
			}
			for _, host := range hosts {
				g := startSockGuest(t, "run", wasm, "--", "tcp-server", host, "2")
				if got := g.expect("sotype"); got != "2" {
					t.Errorf("SO_TYPE of a stream socket = %s, want 2", got)
				}
				if shape != "V2" {
					want := "4"
					if strings.Contains(host, ":") {
						want = "6"
					}
					if got := g.expect("addrtype"); got != want {
						t.Errorf("V1 addr_type = %s, want %s", got, want)
					}
				}
				addr := net.JoinHostPort(host, g.expect("listening"))
				for _, msg := range []string{"hello over fd_read", strings.Repeat("sock_recv ", 1000)} {
					if got := echoOnce(t, "tcp", addr, msg); got != msg {
						t.Errorf("%s: echo of %d bytes came back as %d bytes", host, len(msg), len(got))
					}
					g.expect("peer")
				}
				g.expect("done")
				g.wait()
			}
		})
	}
}

func TestSockCTCPClient(t *testing.T) {
	l := tcpServer(t, func(c net.Conn) {
		got, _ := io.ReadAll(c)
		c.Write([]byte("reply to " + string(got)))
	})
	port := strings.TrimPrefix(l.Addr().String(), "127.0.0.1:")
	for _, shape := range sockShapes {
		t.Run(shape, func(t *testing.T) {
			r := run(t, nil, "run", sockEcho(t, shape), "--", "tcp-client", "127.0.0.1", port, "hi")
			mustExit(t, r, 0)
			if got := field(t, r.stdout, "got"); got != "reply to hi" {
				t.Errorf("client got %q", got)
			}
		})
	}
	// Connection refused is an error exit, not a hang.
	closed := strconv.Itoa(freePort(t, "tcp"))
	r := run(t, nil, "run", sockEcho(t, "V2"), "--", "tcp-client", "127.0.0.1", closed, "x")
	if r.code != 1 || !strings.Contains(r.stdout, "error connect 14") {
		t.Errorf("connect to a closed port: exit %d, stdout %q; want ECONNREFUSED (14)", r.code, r.stdout)
	}
}

func TestSockCUDP(t *testing.T) {
	for _, shape := range sockShapes {
		t.Run(shape, func(t *testing.T) {
			t.Parallel()
			wasm := sockEcho(t, shape)
			peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			peerPort := peer.LocalAddr().(*net.UDPAddr).Port
			g := startSockGuest(t, "run", wasm, "--", "udp-server", "127.0.0.1", strconv.Itoa(peerPort))
			if got := g.expect("sotype"); got != "1" {
				t.Errorf("SO_TYPE of a datagram socket = %s, want 1", got)
			}
			dst, err := net.ResolveUDPAddr("udp4", "127.0.0.1:"+g.expect("listening"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := peer.WriteTo([]byte("datagram"), dst); err != nil {
				t.Fatal(err)
			}
			if shape != "V1" {
				if got := g.expect("from"); got != strconv.Itoa(peerPort) {
					t.Errorf("recv_from port %s, want %d", got, peerPort)
				}
			}
			peer.SetReadDeadline(time.Now().Add(sockWait))
			buf := make([]byte, 100)
			n, from, err := peer.ReadFrom(buf)
			if err != nil {
				t.Fatal(err)
			}
			if string(buf[:n]) != "datagram" || from.String() != dst.String() {
				t.Errorf("echo %q from %v, want %q from %v", buf[:n], from, "datagram", dst)
			}
			g.wait()
		})
	}
}

func TestSockCUnix(t *testing.T) {
	for _, shape := range sockShapes {
		t.Run(shape, func(t *testing.T) {
			t.Parallel()
			wasm := sockEcho(t, shape)
			dir := t.TempDir()

			// Stream: the guest serves /data/s.sock; a Go client and a
			// guest client connect.
			g := startSockGuest(t, "run", "--dir", dir+":/data", wasm, "--", "unix-server", "/data/s.sock", "2")
			if got := g.expect("listening"); got != "/data/s.sock" {
				t.Errorf("getlocaladdr of the Unix listener = %q", got)
			}
			if got := echoOnce(t, "unix", filepath.Join(dir, "s.sock"), "unix stream"); got != "unix stream" {
				t.Errorf("unix echo = %q", got)
			}
			r := run(t, nil, "run", "--dir", dir+":/data", wasm, "--", "unix-client", "/data/s.sock", "from a guest")
			mustExit(t, r, 0)
			if got := field(t, r.stdout, "got"); got != "from a guest" {
				t.Errorf("guest client got %q", got)
			}
			g.expect("done")
			g.wait()

			// Datagram: the Go peer is bound in the same directory; the
			// guest sees its address by guest path and replies to it.
			g = startSockGuest(t, "run", "--dir", dir+":/data", wasm, "--", "unix-dgram", "/data/d.sock")
			g.expect("listening")
			cli, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "cli.sock"), Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			if _, err := cli.WriteTo([]byte("dgram"), &net.UnixAddr{Name: filepath.Join(dir, "d.sock"), Net: "unixgram"}); err != nil {
				t.Fatal(err)
			}
			if got := g.expect("got"); got != "dgram from /data/cli.sock" {
				t.Errorf("guest got %q", got)
			}
			cli.SetReadDeadline(time.Now().Add(sockWait))
			buf := make([]byte, 100)
			n, _, err := cli.ReadFrom(buf)
			if err != nil || string(buf[:n]) != "dgram" {
				t.Errorf("reply %q, %v", buf[:n], err)
			}
			g.wait()

			// A path outside the preopen is refused (ENOTCAPABLE = 76).
			outside := filepath.Join(os.TempDir(), "wasmrun-escape-"+shape+"-"+strconv.Itoa(os.Getpid())+".sock")
			r = run(t, nil, "run", "--dir", dir+":/data", wasm, "--", "unix-server", outside, "1")
			if r.code != 1 || !strings.Contains(r.stdout, "error bind 76") {
				t.Errorf("bind outside the preopen: exit %d, stdout %q", r.code, r.stdout)
			}
			if _, err := os.Stat(outside); err == nil {
				os.Remove(outside)
				t.Errorf("%s was created on the host", outside)
			}
		})
	}
}
