package integration

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// sockGuest is a wasmrun process running a socket guest, whose stdout the
// test reads line by line ("listening PORT" and the like).
type sockGuest struct {
	t      testing.TB
	cmd    *exec.Cmd
	lines  chan string
	cancel context.CancelFunc
	mu     sync.Mutex
	stderr bytes.Buffer
	out    []string // every line read so far
	done   chan struct{}
	err    error
}

// sockWait bounds each wait for a line or for the guest's exit.
const sockWait = 30 * time.Second

// startSockGuest starts `wasmrun ARGS...`; the process is killed at cleanup.
func startSockGuest(t testing.TB, args ...string) *sockGuest {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	g := &sockGuest{t: t, cmd: command(ctx, args...), lines: make(chan string, 1024), cancel: cancel, done: make(chan struct{})}
	stdout, err := g.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	g.cmd.Stderr = &lockedWriter{mu: &g.mu, w: &g.stderr}
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			g.lines <- s.Text()
		}
		close(g.lines)
		g.err = g.cmd.Wait()
		close(g.done)
	}()
	t.Cleanup(func() {
		g.cmd.Process.Kill()
		<-g.done
		cancel()
	})
	return g
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (g *sockGuest) stderrText() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stderr.String()
}

// expect returns the rest of the next line starting with "KEY " (skipping
// other lines), failing on "error" lines, exit or timeout.
func (g *sockGuest) expect(key string) string {
	g.t.Helper()
	timeout := time.After(sockWait)
	for {
		select {
		case line, ok := <-g.lines:
			if !ok {
				<-g.done
				g.t.Fatalf("guest exited (%v) before %q; output %q; stderr:\n%s", g.err, key, g.out, g.stderrText())
			}
			g.out = append(g.out, line)
			if strings.HasPrefix(line, "error") {
				g.t.Fatalf("guest: %s (stderr: %s)", line, g.stderrText())
			}
			if v, ok := strings.CutPrefix(line, key+" "); ok {
				return v
			}
			if line == key {
				return ""
			}
		case <-timeout:
			g.t.Fatalf("no %q line from the guest within %v; output %q; stderr:\n%s", key, sockWait, g.out, g.stderrText())
		}
	}
}

// wait waits for the guest to exit and fails unless it exited 0.
func (g *sockGuest) wait() {
	g.t.Helper()
	for {
		select {
		case line, ok := <-g.lines:
			if ok {
				g.out = append(g.out, line)
				continue
			}
			<-g.done
			if g.err != nil {
				g.t.Fatalf("guest: %v; output %q; stderr:\n%s", g.err, g.out, g.stderrText())
			}
			return
		case <-time.After(sockWait):
			g.t.Fatalf("guest did not exit within %v; output %q; stderr:\n%s", sockWait, g.out, g.stderrText())
		}
	}
}

// echoOnce connects to addr over network, writes msg, half-closes and
// returns everything read back.
func echoOnce(t testing.TB, network, addr, msg string) string {
	t.Helper()
	c, err := net.DialTimeout(network, addr, sockWait)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(sockWait))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	switch c := c.(type) {
	case *net.TCPConn:
		c.CloseWrite()
	case *net.UnixConn:
		c.CloseWrite()
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(c); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// hasIPv6Loopback reports whether ::1 can be bound here.
func hasIPv6Loopback() bool {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	l.Close()
	return true
}
