package integration

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// dialHost is a dial function, for greeting, that connects to addr over
// TCP from the host.
func dialHost(addr string) func() (net.Conn, error) {
	return func() (net.Conn, error) { return net.DialTimeout("tcp", addr, 10*time.Second) }
}

// TestOSSameGuestPort: two guests bind :8080 at the same time, each in its
// own namespace, and each answers there with its own id.
func TestOSSameGuestPort(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	dir := e.app1(guests.Go(t, "netapp"))
	runs := map[string]*osRun{}
	for _, name := range []string{"a", "b"} {
		runs[name] = e.start("--name", name, "--env", "APP_ID="+name, dir, "--", "serve", ":8080")
	}
	for name, r := range runs {
		r.waitFor("listening 0.0.0.0:8080")
		got := greeting(t, func() (net.Conn, error) { return dialIn(e.netns(name), "127.0.0.1:8080") })
		if want := "hello " + name; got != want {
			t.Errorf("namespace %s: got %q, want %q", e.netns(name), got, want)
		}
	}
	terminateAll(t, runs)
	e.noLeaks()
}

// TestOSHostLoopbackUnreachable: an isolated guest dialing the host's
// 127.0.0.1:PORT, where a test server listens, is refused (its 127.0.0.1 is
// its own loopback); the same guest with isolation = false connects.
func TestOSHostLoopbackUnreachable(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	srv := newHostListener(t)
	addr := srv.addr
	wasm := guests.Go(t, "netapp")

	r := e.run("os", "--name", "iso", e.app1(wasm), "--", "dial", addr)
	mustExit(t, r, 3)
	if r.stdout != "refused\n" {
		t.Errorf("isolated guest dialing the host's %s: stdout %q, want %q", addr, r.stdout, "refused\n")
	}
	srv.notReached(t)

	// Control: on the host network the same dial works.
	host := e.app(map[string]string{"app.wasm": wasm}, "", "isolation = false\n")
	r = e.run("os", "--name", "shared", host, "--", "dial", addr)
	mustExit(t, r, 0)
	if r.stdout != "connected\n" {
		t.Errorf("guest on the host network dialing %s: stdout %q, want %q", addr, r.stdout, "connected\n")
	}
	srv.reached(t)
	e.noLeaks()
}

// TestOSForward: --forward H:3000 makes the guest answer on the host's
// 127.0.0.1:H; --verbose shows each step; SIGTERM tears it all down.
func TestOSForward(t *testing.T) {
	t.Parallel()
	requireCNI(t)
	e := newOSEnv(t)
	dir := e.app1(guests.Go(t, "netapp"))
	// Two host ports into the same guest port: one from every host
	// address, one from 127.0.0.1 only (HOSTIP:HOSTPORT:GUESTPORT).
	port, port2 := freePort(t, "tcp"), freePort(t, "tcp")
	r := e.start("--verbose", "--name", "fwd", "--forward", fmt.Sprintf("%d:3000", port),
		"--forward", fmt.Sprintf("127.0.0.1:%d:3000/tcp", port2), "--env", "APP_ID=fwd", dir, "--", "serve", ":3000")
	r.waitFor("listening 0.0.0.0:3000")
	for _, p := range []int{port, port2} {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		if got := greeting(t, dialHost(addr)); got != "hello fwd" {
			t.Errorf("%s: got %q, want %q", addr, got, "hello fwd")
		}
	}
	r.signal(syscall.SIGTERM)
	if code := r.wait(); code != 143 {
		t.Errorf("exit code %d after SIGTERM, want 143", code)
	}
	// --verbose: namespace, interfaces and addresses, rules, module, exit.
	subnet := strings.TrimSuffix(e.subnet, "0/24")
	stderr := r.stderr.String()
	for _, want := range []string{
		"created namespace " + e.prefix + "-fwd",
		"lo up",
		"veth eth0 " + subnet,
		"via bridge " + e.bridge,
		"portmap ",
		fmt.Sprintf(":%d/tcp -> %s", port, subnet),
		"module " + dir + "/app.wasm",
		"running as pid",
		"exited with status 143",
		"deleted namespace " + e.prefix + "-fwd",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("--verbose output has no %q:\n%s", want, stderr)
		}
	}
	e.noLeaks(port, port2)
}

// TestOSForwardSideBySide: two apps on the same guest port, forwarded from
// two host ports, each reached through its own.
func TestOSForwardSideBySide(t *testing.T) {
	t.Parallel()
	requireCNI(t)
	e := newOSEnv(t)
	dir := e.app1(guests.Go(t, "netapp"))
	ports := map[string]int{"left": freePort(t, "tcp"), "right": freePort(t, "tcp")}
	runs := map[string]*osRun{}
	for name, port := range ports {
		runs[name] = e.start("--name", name, "--forward", fmt.Sprintf("%d:8080", port), "--env", "APP_ID="+name, dir, "--", "serve", ":8080")
	}
	for name, r := range runs {
		r.waitFor("listening 0.0.0.0:8080")
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[name]))
		// Twice each, interleaved: the forwards stay apart.
		for range 2 {
			if got := greeting(t, dialHost(addr)); got != "hello "+name {
				t.Errorf("%s: got %q, want %q", addr, got, "hello "+name)
			}
		}
	}
	// A third app asking for a host port that a running app forwards (no
	// host socket holds it: portmap only adds rules) is refused.
	third := e.run("os", "--name", "third", "--forward", fmt.Sprintf("%d:8080", ports["left"]), dir, "--", "serve", ":8080")
	mustExit(t, third, ExitFailure)
	if want := fmt.Sprintf("port %d/tcp on the host is already in use", ports["left"]); len(lines(third.stderr)) != 1 || !strings.Contains(third.stderr, want) {
		t.Errorf("third app on port %d: stderr %q, want one line with %q", ports["left"], third.stderr, want)
	}
	if fileExists(e.netns("third")) {
		t.Errorf("the refused app left %s", e.netns("third"))
	}
	terminateAll(t, runs)
	e.noLeaks(ports["left"], ports["right"])
}

// TestOSForwardUDP: a UDP forward reaches a guest's UDP echo.
func TestOSForwardUDP(t *testing.T) {
	t.Parallel()
	requireCNI(t)
	e := newOSEnv(t)
	dir := e.app1(guests.Go(t, "netapp"))
	port := freePort(t, "udp")
	r := e.start("--name", "udp", "--forward", fmt.Sprintf("%d:5353/udp", port), "--env", "APP_ID=udp", dir, "--", "udp", ":5353")
	r.waitFor("listening 0.0.0.0:5353")
	if got := udpPing(t, port); got != "udp: ping" {
		t.Errorf("UDP answer %q, want %q", got, "udp: ping")
	}
	r.signal(syscall.SIGTERM)
	if code := r.wait(); code != 143 {
		t.Errorf("exit code %d after SIGTERM, want 143\nstderr:\n%s", code, r.stderr)
	}
	e.noLeaks(port)
}

// TestOSForwardPortTaken: a forward from a host port that a host process
// holds fails with one clear line and exit 125, and leaves nothing: no
// namespace, state, DNAT rule or IPAM lease.
func TestOSForwardPortTaken(t *testing.T) {
	t.Parallel()
	requireCNI(t)
	e := newOSEnv(t)
	dir := e.app1(guests.Go(t, "netapp"))

	tcpPort, udpPort := heldPort(t, "tcp"), heldPort(t, "udp")

	for _, tc := range []struct{ forward, want string }{
		{fmt.Sprintf("%d:3000", tcpPort), fmt.Sprintf("port %d/tcp on the host is already in use", tcpPort)},
		{fmt.Sprintf("%d:3000/udp", udpPort), fmt.Sprintf("port %d/udp on the host is already in use", udpPort)},
	} {
		r := e.run("os", "--name", "taken", "--forward", tc.forward, dir, "--", "serve", ":3000")
		mustExit(t, r, ExitFailure)
		if ls := lines(r.stderr); len(ls) != 1 || !strings.Contains(ls[0], tc.want) {
			t.Errorf("--forward %s: stderr %q, want one line with %q", tc.forward, r.stderr, tc.want)
		}
		if r.stdout != "" {
			t.Errorf("--forward %s: stdout %q, want nothing", tc.forward, r.stdout)
		}
	}
	e.noLeaks(tcpPort, udpPort)
}

// ExitFailure is wasmrun's own failure exit code.
const ExitFailure = 125

// TestOSForwardIPv6: forwards from [::1] and [::] answer (portmap cannot
// send IPv6 into the namespace, so they go through the userspace
// forwarder), next to a portmap forward from 127.0.0.1; ps shows all three;
// two forwards of one host port are refused before anything is created.
func TestOSForwardIPv6(t *testing.T) {
	t.Parallel()
	requireCNI(t)
	e := newOSEnv(t)
	dir := e.app1(guests.Go(t, "netapp"))
	p4, p6, pAny := freePort(t, "tcp"), freePort(t, "tcp"), freePort(t, "tcp")
	fwds := []string{fmt.Sprintf("127.0.0.1:%d:3000", p4), fmt.Sprintf("[::1]:%d:3000", p6), fmt.Sprintf("[::]:%d:3000", pAny)}
	args := []string{"--verbose", "--name", "six"}
	for _, f := range fwds {
		args = append(args, "--forward", f)
	}
	r := e.start(append(args, "--env", "APP_ID=six", dir, "--", "serve", ":3000")...)
	r.waitFor("listening 0.0.0.0:3000")
	for _, addr := range []string{
		net.JoinHostPort("127.0.0.1", strconv.Itoa(p4)),
		net.JoinHostPort("::1", strconv.Itoa(p6)),
		net.JoinHostPort("::1", strconv.Itoa(pAny)),
		net.JoinHostPort("127.0.0.1", strconv.Itoa(pAny)),
	} {
		if got := greeting(t, dialHost(addr)); got != "hello six" {
			t.Errorf("%s: got %q, want %q", addr, got, "hello six")
		}
	}
	ps := e.run("ps")
	for _, f := range []string{fmt.Sprintf("[::1]:%d:3000/tcp", p6), fmt.Sprintf("127.0.0.1:%d:3000/tcp", p4)} {
		if !strings.Contains(ps.stdout, f) {
			t.Errorf("ps does not show %s:\n%s", f, ps.stdout)
		}
	}
	r.signal(syscall.SIGTERM)
	if code := r.wait(); code != 143 {
		t.Errorf("exit code %d after SIGTERM, want 143\nstderr:\n%s", code, r.stderr)
	}
	if !strings.Contains(r.stderr.String(), "userspace forwarder (IPv6 host addresses") {
		t.Errorf("--verbose does not say IPv6 forwards use the userspace forwarder:\n%s", r.stderr)
	}
	for _, p := range []int{p6, pAny} {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort("::1", strconv.Itoa(p)), time.Second); err == nil {
			c.Close()
			t.Errorf("[::1]:%d still answers after the app exited", p)
		}
	}

	// The same host port twice (also 0.0.0.0 against 127.0.0.1) is one
	// clear error, exit 125, and nothing is left.
	port := freePort(t, "tcp")
	for _, pair := range [][2]string{
		{fmt.Sprintf("%d:3000", port), fmt.Sprintf("%d:4000", port)},
		{fmt.Sprintf("0.0.0.0:%d:3000", port), fmt.Sprintf("127.0.0.1:%d:4000", port)},
		{fmt.Sprintf("[::]:%d:3000", port), fmt.Sprintf("127.0.0.1:%d:4000", port)},
	} {
		d := e.run("os", "--name", "dup", "--forward", pair[0], "--forward", pair[1], dir, "--", "serve", ":3000")
		mustExit(t, d, ExitFailure)
		if ls := lines(d.stderr); len(ls) != 1 || !strings.Contains(ls[0], fmt.Sprintf("both claim host port %d/tcp", port)) {
			t.Errorf("--forward %s --forward %s: stderr %q, want one line saying both claim the port", pair[0], pair[1], d.stderr)
		}
	}
	e.noLeaks(p4, p6, pAny, port)
}

// TestOSBridgeIsolation: a real guest on the bridge (bridge = true) tries
// the host's services through its gateway, a neighbour app's forwarded and
// unforwarded ports, and the same from a forward-only app; every dial
// fails, the host server sees nothing, and the neighbour still answers
// through its forward.
func TestOSBridgeIsolation(t *testing.T) {
	t.Parallel()
	requireCNI(t)
	e := newOSEnv(t)
	// A host service on every address (also the bridge's).
	host := newHostListenerAll(t)
	_, hostPort, _ := net.SplitHostPort(host.addr)
	gateway := strings.TrimSuffix(e.subnet, "0/24") + "1"

	fwd := freePort(t, "tcp")
	b := e.start("--name", "b", "--forward", fmt.Sprintf("%d:3000", fwd), "--env", "APP_ID=b", e.app1(guests.Go(t, "netapp")), "--", "serve", ":3000")
	b.waitFor("listening 0.0.0.0:3000")
	addrs, err := addrsInNetns(e.netns("b"))
	if err != nil {
		t.Fatal(err)
	}
	var bAddr string
	for _, a := range addrs {
		if ip, _, _ := net.ParseCIDR(a); ip != nil && ip.To4() != nil && !ip.IsLoopback() {
			bAddr = ip.String()
		}
	}
	if bAddr == "" {
		t.Fatalf("no address of app b on the bridge: %v", addrs)
	}

	egress := guests.Go(t, "egress")
	targets := []string{
		net.JoinHostPort(gateway, hostPort),
		net.JoinHostPort(bAddr, "3000"),
		net.JoinHostPort(bAddr, "4000"),
	}
	for _, tc := range []struct{ name, network string }{
		{"outbound app", "bridge = true\n"},
		{"forward-only app", fmt.Sprintf("forward = [\"%d:3000\"]\n", freePort(t, "tcp"))},
	} {
		app := e.app(map[string]string{"app.wasm": egress}, "", tc.network)
		r := e.run(append([]string{"os", app, "--", "127.0.0.1:7000"}, targets...)...)
		if r.code != 0 {
			t.Fatalf("%s: exit %d\nstderr:\n%s", tc.name, r.code, r.stderr)
		}
		got := lines(r.stdout)
		if len(got) != len(targets) {
			t.Fatalf("%s: guest reported %q, want one line per target", tc.name, r.stdout)
		}
		for i, line := range got {
			if !strings.HasPrefix(line, targets[i]+" ") || strings.HasSuffix(line, " connected") {
				t.Errorf("%s: %q; want %s not connected", tc.name, line, targets[i])
			}
		}
	}
	host.notReached(t)
	if got := greeting(t, dialHost(net.JoinHostPort("127.0.0.1", strconv.Itoa(fwd)))); got != "hello b" {
		t.Errorf("b through its forward: got %q, want %q", got, "hello b")
	}
	terminateAll(t, map[string]*osRun{"b": b})
	e.noLeaks(fwd)
}

// TestOSForwardHeld: while an app forwards a host port, nothing else can
// bind that port, on either family: a squatter on [::]:P would answer
// every client that tries ::1 first ("localhost" ones too), and one on
// 0.0.0.0:P would take the port when the app restarts. For a kernel
// (portmap) forward and for the userspace forwarder (its listener is
// 0.0.0.0 only), TCP and UDP: binding the port is EADDRINUSE, a TCP
// client of [::1]:P is refused (never answered by anyone else), the
// forward still answers on 127.0.0.1:P (and, through the forwarder's
// dual-stack listener, on [::1]:P); once the app is gone the port is free
// again.
func TestOSForwardHeld(t *testing.T) {
	t.Parallel()
	requireCNI(t)
	e := newOSEnv(t)
	dir := e.app1(guests.Go(t, "netapp"))
	if err := os.Mkdir(filepath.Join(e.dir, "no-plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"portmap", nil},
		{"userspace", []string{"--cni-path", filepath.Join(e.dir, "no-plugins")}},
	} {
		port, uport, lport := freePort(t, "tcp"), freePort(t, "udp"), freePort(t, "tcp")
		args := append(append([]string{"--name", "held-" + tc.name}, tc.extra...),
			"--forward", fmt.Sprintf("%d:3000", port), "--forward", fmt.Sprintf("%d:5353/udp", uport),
			"--forward", fmt.Sprintf("127.0.0.1:%d:3000", lport),
			"--env", "APP_ID=held", dir, "--", "serve", ":3000")
		r := e.start(args...)
		r.waitFor("listening 0.0.0.0:3000")
		for _, b := range []struct{ network, addr string }{
			{"tcp4", fmt.Sprintf("0.0.0.0:%d", port)}, {"tcp6", fmt.Sprintf("[::]:%d", port)},
			{"udp4", fmt.Sprintf("0.0.0.0:%d", uport)}, {"udp6", fmt.Sprintf("[::]:%d", uport)},
			// A forward from 127.0.0.1: "localhost" clients may try ::1.
			{"tcp6", fmt.Sprintf("[::1]:%d", lport)},
		} {
			var c io.Closer
			var err error
			if strings.HasPrefix(b.network, "tcp") {
				c, err = net.Listen(b.network, b.addr)
			} else {
				c, err = net.ListenPacket(b.network, b.addr)
			}
			if err == nil {
				c.Close()
				t.Errorf("%s: a squatter bound %s %s", tc.name, b.network, b.addr)
			} else if !errors.Is(err, syscall.EADDRINUSE) {
				t.Errorf("%s: bind %s %s: %v, want EADDRINUSE", tc.name, b.network, b.addr, err)
			}
		}
		six := fmt.Sprintf("[::1]:%d", port)
		if tc.name == "userspace" { // its listener is dual-stack: the forward's own
			if got := greeting(t, dialHost(six)); got != "hello held" {
				t.Errorf("%s: %s answers %q", tc.name, six, got)
			}
		} else if c, err := net.DialTimeout("tcp6", six, 5*time.Second); err == nil {
			c.Close()
			t.Errorf("%s: %s answered", tc.name, six)
		}
		if got := greeting(t, dialHost(fmt.Sprintf("127.0.0.1:%d", port))); got != "hello held" {
			t.Errorf("%s: the forward answers %q", tc.name, got)
		}
		r.signal(syscall.SIGTERM)
		r.wait()
		for _, network := range []string{"tcp4", "tcp6"} {
			if l, err := net.Listen(network, fmt.Sprintf(":%d", port)); err != nil {
				t.Errorf("%s: after the app, %s port %d: %v", tc.name, network, port, err)
			} else {
				l.Close()
			}
		}
		e.noLeaks(port)
	}
}
