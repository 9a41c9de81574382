package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
)

func testContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), runTimeout)
}

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func openFile(t testing.TB, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func createFile(t testing.TB, path string) *os.File {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// appDir writes files (relative path -> content, parent directories made
// as needed) into a new app directory of the test.
func appDir(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, p, content)
	}
	return dir
}

// tcpServer listens on a free port of 127.0.0.1 until t ends, and calls
// handle on a goroutine of its own for each connection it accepts; the
// connection is closed when handle returns.
func tcpServer(t testing.TB, handle func(c net.Conn)) net.Listener {
	t.Helper()
	return tcpServerOn(t, "127.0.0.1:0", handle)
}

// tcpServerOn is tcpServer listening on addr.
func tcpServerOn(t testing.TB, addr string, handle func(c net.Conn)) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, l, handle)
	return l
}

// serve runs handle for each connection l accepts (see tcpServer) until t
// ends, which closes l.
func serve(t testing.TB, l net.Listener, handle func(c net.Conn)) {
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
}

// udpEchoServer listens on a free UDP port of 127.0.0.1 until t ends and
// answers each datagram with prefix followed by the datagram.
func udpEchoServer(t testing.TB, prefix string) net.PacketConn {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(append([]byte(prefix), buf[:n]...), from)
		}
	}()
	return pc
}

// dialIn connects to addr over TCP from inside the network namespace at
// path (/run/netns/NAME or /proc/PID/ns/net): the socket is created on a
// thread that entered the namespace, and keeps it after the thread leaves.
func dialIn(path, addr string) (net.Conn, error) {
	var c net.Conn
	err := ns.WithNetNSPath(path, func(ns.NetNS) error {
		var err error
		c, err = net.DialTimeout("tcp", addr, 10*time.Second)
		return err
	})
	return c, err
}

// httpGetConn sends a plain HTTP/1.0 GET of path over c, returns the raw
// response (status line, headers and body) and closes c.
func httpGetConn(c net.Conn, path string) (string, error) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", path)
	b, err := io.ReadAll(bufio.NewReader(c))
	return string(b), err
}

// httpGet GETs url with client and returns the body; any error or a
// status other than 200 fails t.
func httpGet(t testing.TB, client *http.Client, url string) string {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return string(b)
}

// rawHTTPGet sends GET path to addr and returns the raw response.
func rawHTTPGet(addr, path string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return "", err
	}
	return httpGetConn(c, path)
}

// waitUntil calls cond every interval until it returns true or timeout
// has passed, and reports whether it returned true.
func waitUntil(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
	return true
}

// procState is field 3 of /proc/<pid>/stat ("R", "S", "Z", ...).
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || len(s) < i+3 {
		return ""
	}
	return s[i+2 : i+3]
}
