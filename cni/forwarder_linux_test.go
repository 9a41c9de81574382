package cni

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/cni/procnet"
)

// The userspace forwarder reaches servers on the loopback of a
// loopback-only namespace, TCP and UDP; Stop closes everything.
func TestForwarder(t *testing.T) {
	e := newTestEnv(t)
	n := e.setup(Request{Mode: ModeNew, ID: e.id()})
	startEcho(t, n, "127.0.0.1:3000", "in", true)
	lb := &logBuf{}
	f, err := StartForwarder(n.Path, []Forward{
		{HostIP: "127.0.0.1", GuestPort: 3000},
		{HostIP: "127.0.0.1", GuestPort: 3000, Protocol: "udp"},
	}, ForwarderOptions{Log: lb.logf, UDPIdleTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	tcpAddr, udpAddr := f.Addrs()[0].String(), f.Addrs()[1].String()
	for i := range 3 {
		msg := fmt.Sprint("m", i)
		if got, err := askTCP(tcpAddr, msg); err != nil || got != "in: "+msg {
			t.Fatalf("tcp %s: %q, %v\n%v", tcpAddr, got, err, lb)
		}
	}
	if got, err := askUDP(udpAddr, "u1"); err != nil || got != "in: u1" {
		t.Fatalf("udp %s: %q, %v", udpAddr, got, err)
	}
	// The session ends after its idle timeout; a new one is made on
	// demand.
	if s := f.udpSessions.Load(); s != 1 {
		t.Fatalf("%d UDP sessions, want 1", s)
	}
	waitFor(t, 5*time.Second, "UDP session to expire", func() bool { return f.udpSessions.Load() == 0 })
	if got, err := askUDP(udpAddr, "u2"); err != nil || got != "in: u2" {
		t.Fatalf("udp after idle: %q, %v", got, err)
	}
	if s := f.udpSessions.Load(); s != 1 {
		t.Fatalf("%d UDP sessions, want 1", s)
	}
	held, err := net.Dial("tcp", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := f.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := net.DialTimeout("tcp", tcpAddr, time.Second); err == nil {
		t.Fatal("forwarder still listening after Stop")
	}
	held.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := held.Read(make([]byte, 1)); err == nil {
		t.Fatal("held connection still open after Stop")
	}
}

func TestForwarderPortInUse(t *testing.T) {
	e := newTestEnv(t)
	n := e.setup(Request{Mode: ModeNew, ID: e.id()})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	free := freePort(t)
	_, err = StartForwarder(n.Path, []Forward{
		{HostIP: "127.0.0.1", HostPort: free, GuestPort: 1},
		{HostIP: "127.0.0.1", HostPort: port, GuestPort: 1},
	}, ForwarderOptions{})
	if !errors.Is(err, ErrPortInUse) || err.Error() != fmt.Sprintf("start forwarder: port %d/tcp on the host is already in use", port) {
		t.Fatalf("StartForwarder: %v", err)
	}
	// The first listener was closed again.
	if err := CheckPortFree(Forward{HostIP: "127.0.0.1", HostPort: free, GuestPort: 1}); err != nil {
		t.Fatalf("first port not released: %v", err)
	}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The rootless path: the forwarder gets its inside sockets from a
// ServeDial running in the namespace, over a socket pair, without setns.
func TestForwarderFDDialer(t *testing.T) {
	e := newTestEnv(t)
	n := e.setup(Request{Mode: ModeNew, ID: e.id()})
	startEcho(t, n, "127.0.0.1:3000", "fd", true)
	host, inside, err := procnet.DialSocketPair()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	served := make(chan error, 1)
	go func() {
		served <- n.Do(func() error { defer inside.Close(); return procnet.ServeDial(inside) })
	}()
	dial, closeDial, err := procnet.FDDialer(host)
	if err != nil {
		t.Fatal(err)
	}
	f, err := StartForwarder("", []Forward{
		{HostIP: "127.0.0.1", GuestPort: 3000},
		{HostIP: "127.0.0.1", GuestPort: 3000, Protocol: "udp"},
		{HostIP: "127.0.0.1", GuestPort: 3001}, // nothing listens inside
	}, ForwarderOptions{Dial: dial})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	a := f.Addrs()
	if got, err := askTCP(a[0].String(), "t"); err != nil || got != "fd: t" {
		t.Fatalf("tcp: %q, %v", got, err)
	}
	if got, err := askUDP(a[1].String(), "u"); err != nil || got != "fd: u" {
		t.Fatalf("udp: %q, %v", got, err)
	}
	// The dialer's sockets are in the namespace.
	c, err := dial("tcp", "127.0.0.1:3000")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cookieOf(t, c.(*net.TCPConn)), nsCookie(t, n); got != want {
		t.Errorf("dialed socket in netns %d, want %d", got, want)
	}
	c.Close()
	// A refused inside dial closes the host connection and is reported.
	if _, err := dial("tcp", "127.0.0.1:3001"); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("dial to a closed inside port: %v", err)
	}
	if got, err := askTCP(a[2].String(), "x"); err == nil {
		t.Fatalf("forward to a closed inside port answered %q", got)
	}
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	closeDial()
	host.Close()
	if err := <-served; err != nil {
		t.Fatalf("ServeDial: %v", err)
	}
}

// TestForwarderBounded: clients of a forward whose app never accepts
// (its backlog full, their connects inside wait) cost the forwarder no
// thread each, at most maxForwardConns connections, and the ones past it
// are closed at once; Stop ends the dials still waiting. A UDP forward
// serves at most maxUDPSessions client addresses.
func TestForwarderBounded(t *testing.T) {
	e := newTestEnv(t)
	n := e.setup(Request{Mode: ModeNew, ID: e.id()})
	lfd := -1
	if err := n.Do(func() (err error) {
		if lfd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		if err := unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: 3000}); err != nil {
			return err
		}
		return unix.Listen(lfd, 1) // and never accepts
	}); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(lfd)
	startEcho(t, n, "127.0.0.1:3001", "in", true) // for UDP
	f, err := StartForwarder(n.Path, []Forward{
		{HostIP: "127.0.0.1", GuestPort: 3000},
		{HostIP: "127.0.0.1", GuestPort: 3001, Protocol: "udp"},
	}, ForwarderOptions{Log: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	threads := func() int {
		ents, _ := os.ReadDir("/proc/self/task")
		return len(ents)
	}
	before := threads()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range maxForwardConns + 100 {
		c, err := net.Dial("tcp", f.Addrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	waitFor(t, 10*time.Second, "the forwarder to take every connection", func() bool { return f.tcpConns.Load() == maxForwardConns })
	if n := threads(); n > before+50 {
		t.Errorf("%d threads with %d connections waiting on the app, %d before", n, maxForwardConns, before)
	}
	// The last ones were closed: they read EOF.
	last := conns[len(conns)-1]
	last.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := last.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("a connection past the bound: %v, want EOF", err)
	}

	// UDP: client addresses past the bound get no session. One datagram
	// is served before the next is read, so once the reply to a served
	// client's later datagram is back, the new clients' before it were
	// judged.
	ask := func(c net.Conn, msg string) (string, error) {
		fmt.Fprintf(c, "%s\n", msg)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b := make([]byte, 64)
		k, err := c.Read(b)
		return strings.TrimSuffix(string(b[:k]), "\n"), err
	}
	var udp []net.Conn
	for i := range maxUDPSessions + 20 {
		c, err := net.Dial("udp", f.Addrs()[1].String())
		if err != nil {
			t.Fatal(err)
		}
		conns, udp = append(conns, c), append(udp, c)
		if i < maxUDPSessions {
			if got, err := ask(c, fmt.Sprint("u", i)); err != nil || got != fmt.Sprint("in: u", i) {
				t.Fatalf("client %d: %q, %v", i, got, err)
			}
		} else {
			fmt.Fprintf(c, "u%d\n", i)
		}
	}
	if got, err := ask(udp[0], "again"); err != nil || got != "in: again" {
		t.Fatalf("a served client: %q, %v", got, err)
	}
	if s := f.udpSessions.Load(); s != maxUDPSessions {
		t.Errorf("%d UDP sessions, want at most %d", s, maxUDPSessions)
	}
	stopped := make(chan struct{})
	go func() { f.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(dialTimeout / 2):
		t.Errorf("Stop waited for the dials to time out")
	}
	if s := f.udpSessions.Load(); s != 0 {
		t.Errorf("%d UDP sessions after Stop", s)
	}
}

// TestDialForwardExitedSilentInside: a process inside that holds its end
// of the dial socket and never answers (a child of a container process
// taken over) does not keep the forwarder's Stop waiting for each queued
// dial's full wait: Exited ends them all at once.
func TestDialForwardExitedSilentInside(t *testing.T) {
	var d dialForward
	cmd := exec.Command("true")
	if _, err := d.start(cmd, []Forward{{HostIP: "127.0.0.1", GuestPort: 3000}}, t.Logf); err != nil {
		t.Fatal(err)
	}
	defer d.close()
	// d.inside stays open here, unread: the silent process.
	addr := d.fwd.Addrs()[0].String()
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	waitFor(t, 10*time.Second, "the dials to queue", func() bool { return d.fwd.tcpConns.Load() == 3 })
	exited := make(chan struct{})
	go func() { d.Exited(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(10 * time.Second): // one dial's wait alone is 15 s
		t.Fatal("Exited waits for the silent process's dials")
	}
}
