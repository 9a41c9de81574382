package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// Go guests: github.com/stealthrocket/net/wasip1 on the socket extension
// (testdata/go/sockhttp), and plain net/http on a preopened listener
// (testdata/go/socklisten). Both rely on poll_oneoff for Go's netpoller.

func TestSockGoHTTPServer(t *testing.T) {
	g := startSockGuest(t, "run", guests.Go(t, "sockhttp"), "--", "serve", "127.0.0.1:0")
	base := "http://127.0.0.1:" + g.expect("listening")
	client := &http.Client{Timeout: sockWait}
	for _, p := range []string{"/", "/a", "/b/c"} {
		if got := httpGet(t, client, base+p); got != "hello "+p {
			t.Errorf("GET %s = %q", p, got)
		}
	}
}

func TestSockGoHTTPClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "host saw %s", r.URL.Path)
	}))
	defer srv.Close()
	for _, tags := range [][]string{nil, {"getaddrinfo"}} {
		t.Run(strings.Join(append([]string{"tags"}, tags...), "-"), func(t *testing.T) {
			r := run(t, nil, "run", guests.Go(t, "sockhttp", tags...), "--", "get", srv.URL+"/from-guest")
			mustExit(t, r, 0)
			if got := field(t, r.stdout, "status"); got != "200" {
				t.Errorf("status %s", got)
			}
			if got := field(t, r.stdout, "body"); got != "host saw /from-guest" {
				t.Errorf("body %q", got)
			}
		})
	}
}

func TestSockGoUDP(t *testing.T) {
	wasm := guests.Go(t, "sockhttp")
	t.Run("guest-echoes", func(t *testing.T) {
		g := startSockGuest(t, "run", wasm, "--", "udp-echo", "127.0.0.1:0", "2")
		c, err := net.Dial("udp", "127.0.0.1:"+g.expect("listening"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(sockWait))
		for _, msg := range []string{"one", "two"} {
			if _, err := c.Write([]byte(msg)); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 100)
			n, err := c.Read(buf)
			if err != nil || string(buf[:n]) != msg {
				t.Fatalf("echo %q, %v; want %q", buf[:n], err, msg)
			}
		}
		g.expect("done")
		g.wait()
	})
	t.Run("guest-sends", func(t *testing.T) {
		pc := udpEchoServer(t, "host: ")
		r := run(t, nil, "run", wasm, "--", "udp-client", pc.LocalAddr().String(), "ping")
		mustExit(t, r, 0)
		if got := field(t, r.stdout, "got"); got != "host: ping" {
			t.Errorf("got %q", got)
		}
	})
}

func TestSockGoUnix(t *testing.T) {
	dir := t.TempDir()
	g := startSockGuest(t, "run", "--dir", dir+":/run", guests.Go(t, "sockhttp"), "--", "unix-echo", "/run/echo.sock")
	if got := g.expect("listening"); got != "/run/echo.sock" {
		t.Errorf("listening on %q", got)
	}
	if got := echoOnce(t, "unix", filepath.Join(dir, "echo.sock"), "over unix"); got != "over unix" {
		t.Errorf("echo %q", got)
	}
	g.expect("done")
	g.wait()
}

// TestSockGoDialNumeric dials a numeric address in both resolver modes (no
// DNS involved).
func TestSockGoDialNumeric(t *testing.T) {
	l := tcpServer(t, func(c net.Conn) { c.Write([]byte("welcome\n")) })
	for _, tags := range [][]string{nil, {"getaddrinfo"}} {
		t.Run(strings.Join(append([]string{"tags"}, tags...), "-"), func(t *testing.T) {
			r := run(t, nil, "run", guests.Go(t, "sockhttp", tags...), "--", "dial", l.Addr().String())
			mustExit(t, r, 0)
			if got := field(t, r.stdout, "connected"); got != l.Addr().String() {
				t.Errorf("connected to %q", got)
			}
			if got := field(t, r.stdout, "read"); got != "welcome" {
				t.Errorf("read %q", got)
			}
		})
	}
}

// TestSockGoPreopenedListener: plain net/http on net.FileListener(fd 3),
// the socket coming from `wasmrun run --listen 127.0.0.1:PORT`.
func TestSockGoPreopenedListener(t *testing.T) {
	port := freePort(t, "tcp")
	addr := "127.0.0.1:" + strconv.Itoa(port)
	g := startSockGuest(t, "run", "--listen", addr, guests.Go(t, "socklisten"))
	g.expect("serving")
	client := &http.Client{Timeout: sockWait}
	if got := httpGet(t, client, "http://"+addr+"/plain"); got != "hello /plain" {
		t.Errorf("GET = %q", got)
	}

	// The port is taken now: a second wasmrun says so and exits 125.
	r := run(t, nil, "run", "--listen", addr, guests.Go(t, "socklisten"))
	if r.code != 125 || !strings.Contains(r.stderr, "already in use") {
		t.Errorf("second --listen on %s: exit %d, stderr %q", addr, r.code, r.stderr)
	}
}

// TestSockConcurrentConnections: 1,000 connections open at once to one
// guest server, each answered.
func TestSockConcurrentConnections(t *testing.T) {
	const conns = 1000
	port := freePort(t, "tcp")
	addr := "127.0.0.1:" + strconv.Itoa(port)
	g := startSockGuest(t, "run", "--listen", addr, guests.Go(t, "socklisten"))
	g.expect("serving")

	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	ready := make(chan struct{})
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// Each request on its own connection, all dialed before any
			// request is written.
			c, err := net.DialTimeout("tcp", addr, sockWait)
			if err == nil {
				defer c.Close()
				<-ready
				c.SetDeadline(time.Now().Add(sockWait))
				path := "/c" + strconv.Itoa(i)
				_, err = fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
				var b []byte
				if err == nil {
					b, err = io.ReadAll(c)
				}
				if err == nil && !strings.HasSuffix(string(b), "hello "+path) {
					err = fmt.Errorf("response %q", b)
				}
			}
			if err != nil {
				mu.Lock()
				failures = append(failures, err.Error())
				mu.Unlock()
			}
		}(i)
	}
	close(ready)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of %d connections failed, e.g. %s", len(failures), conns, failures[0])
	}
	t.Logf("%d concurrent connections answered in %v", conns, time.Since(start))
}
