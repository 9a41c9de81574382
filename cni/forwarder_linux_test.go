package cni

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

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
			t.Fatalf("tcp %s: %q, %v", tcpAddr, got, err)
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
