package integration

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// The `wasmrun os` tests of simulated isolation (isolation = "simulated"):
// no namespace, the app's ports are free ports on the host's loopback,
// its own to reach.

const simulated = "isolation = \"simulated\"\n"

// simulatedApp is an app directory of the netapp guest with simulated
// isolation and the extra [network] keys network.
func (e *osEnv) simulatedApp(network string) string {
	e.t.Helper()
	return e.app(map[string]string{"app.wasm": guests.Go(e.t, "netapp")}, "", simulated+network)
}

// simulatedPorts returns what `wasmrun ps` says app name's ports are:
// "PORT/PROTO" -> the host socket that holds it. It fails t unless the
// app's NAMESPACE column says simulated.
func (e *osEnv) simulatedPorts(name string) map[string]netip.AddrPort {
	e.t.Helper()
	ps := e.run("ps")
	mustExit(e.t, ps, 0)
	for _, line := range lines(ps.stdout) {
		f := strings.Fields(line)
		if len(f) < 5 || f[0] != name {
			continue
		}
		col, ok := strings.CutPrefix(f[4], "simulated")
		if !ok {
			e.t.Fatalf("ps: app %s's NAMESPACE is %q, want simulated[:PORTS]\n%s", name, f[4], ps.stdout)
		}
		out := map[string]netip.AddrPort{}
		for _, p := range strings.Split(strings.TrimPrefix(col, ":"), ",") {
			if p == "" {
				continue
			}
			guest, host, _ := strings.Cut(p, "=")
			ap, err := netip.ParseAddrPort(host)
			if err != nil {
				e.t.Fatalf("ps: app %s: port %q: %v\n%s", name, p, err, ps.stdout)
			}
			out[guest] = ap
		}
		return out
	}
	e.t.Fatalf("ps lists no app %s:\n%s", name, ps.stdout)
	return nil
}

// TestOSSimulatedSamePort: two apps with simulated isolation both bind
// :8080; each one's --forward answers with its own, each one's connect to
// its own 127.0.0.1:8080 reaches itself, and ps shows each port held by
// another host port of 127.0.0.1.
func TestOSSimulatedSamePort(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	dir := e.simulatedApp("")
	ports := map[string]int{"sa": freePort(t, "tcp"), "sb": freePort(t, "tcp")}
	runs := map[string]*osRun{}
	for name, port := range ports {
		runs[name] = e.start("--name", name, "--forward", fmt.Sprintf("127.0.0.1:%d:8080", port), "--env", "APP_ID="+name,
			dir, "--", "serve-dial", ":8080", "127.0.0.1:8080", "0.0.0.0:8080")
	}
	hostPorts := map[netip.AddrPort]string{}
	for name, r := range runs {
		r.waitFor("dialed")
		for _, to := range []string{"127.0.0.1:8080", "0.0.0.0:8080"} {
			if want := to + ": hello " + name + "\n"; !strings.Contains(r.stdout.String(), want) {
				t.Errorf("app %s: no %q in its output:\n%s", name, want, r.stdout)
			}
		}
		if !strings.HasPrefix(r.stdout.String(), "listening 0.0.0.0:8080\n") {
			t.Errorf("app %s: the guest sees its socket as %q, want 0.0.0.0:8080", name, r.stdout)
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[name]))
		for range 2 {
			if got := greeting(t, dialHost(addr)); got != "hello "+name {
				t.Errorf("forward %s: got %q, want %q", addr, got, "hello "+name)
			}
		}
		host, ok := e.simulatedPorts(name)["8080/tcp"]
		if !ok || host.Addr() != netip.MustParseAddr("127.0.0.1") || host.Port() == 8080 {
			t.Errorf("app %s: ps says 8080/tcp is held by %v, want another port of 127.0.0.1", name, host)
		}
		hostPorts[host] = name
	}
	if len(hostPorts) != 2 {
		t.Errorf("the two apps' 8080 are held by the same host socket: %v", hostPorts)
	}
	terminateAll(t, runs)
	e.noLeaks(ports["sa"], ports["sb"])
}

// TestOSSimulatedAbuse: an app with simulated isolation that dials a
// service of the host on 127.0.0.1 and the real host port of another
// app's 8080 (learned from ps), as 127.0.0.1 and as 0.0.0.0, is refused
// every time, and nothing reaches either; its own 8080 it reaches.
func TestOSSimulatedAbuse(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	dir := e.simulatedApp("")
	srv := newHostListener(t)
	victim := e.start("--name", "victim", "--env", "APP_ID=victim", dir, "--", "serve", ":8080")
	victim.waitFor("listening 0.0.0.0:8080")
	vport := e.simulatedPorts("victim")["8080/tcp"]
	if !vport.IsValid() {
		t.Fatal("ps shows no port of the victim app")
	}
	// Control: the victim's host port does answer from the host.
	if got := greeting(t, dialHost(vport.String())); got != "hello victim" {
		t.Fatalf("the victim's host port %v: got %q", vport, got)
	}
	_, srvPort, _ := net.SplitHostPort(srv.addr)
	targets := []string{srv.addr, "0.0.0.0:" + srvPort, vport.String(), fmt.Sprintf("0.0.0.0:%d", vport.Port())}
	attacker := e.start(append([]string{"--name", "attacker", "--env", "APP_ID=attacker", dir, "--", "serve-dial", ":8080", "127.0.0.1:8080"}, targets...)...)
	attacker.waitFor("dialed")
	out := attacker.stdout.String()
	if want := "127.0.0.1:8080: hello attacker\n"; !strings.Contains(out, want) {
		t.Errorf("the attacker does not reach its own 8080 (no %q):\n%s", want, out)
	}
	for _, to := range targets {
		if want := to + ": refused\n"; !strings.Contains(out, want) {
			t.Errorf("the attacker's dial of %s was not refused (no %q):\n%s", to, want, out)
		}
	}
	srv.notReached(t)
	terminateAll(t, map[string]*osRun{"victim": victim, "attacker": attacker})
	e.noLeaks()
}

// hostAddress returns an IPv4 address of this host that is not loopback,
// or skips t.
func hostAddress(t *testing.T) netip.Addr {
	t.Helper()
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || n.IP.To4() == nil {
			continue
		}
		if ip, _ := netip.AddrFromSlice(n.IP.To4()); !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
			return ip
		}
	}
	t.Skip("the host has no IPv4 address but loopback")
	return netip.Addr{}
}

// TestOSSimulatedEgress: the egress policy applies to an app with
// simulated isolation as in a namespace: deny = 127.0.0.0/8 keeps it from
// its own port; a service on an address of the host is unreachable
// (EHOSTUNREACH) unless an allow entry names the address.
func TestOSSimulatedEgress(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	denied := e.simulatedApp(`deny = ["127.0.0.0/8"]` + "\n")
	r := e.start("--name", "denied", "--env", "APP_ID=denied", denied, "--", "serve-dial", ":8080", "127.0.0.1:8080")
	r.waitFor("dialed")
	if out := r.stdout.String(); !strings.Contains(out, "127.0.0.1:8080: error: ") || !strings.Contains(out, "not permitted") {
		t.Errorf("deny = 127.0.0.0/8: the app's dial of its own 127.0.0.1:8080 was not denied:\n%s", out)
	}
	terminateAll(t, map[string]*osRun{"denied": r})

	ip := hostAddress(t)
	srv := newHostListenerAll(t)
	_, port, _ := net.SplitHostPort(srv.addr)
	addr := net.JoinHostPort(ip.String(), port)
	res := e.run("os", "--name", "blocked", e.simulatedApp(""), "--", "dial", addr)
	mustExit(t, res, 4)
	if !strings.Contains(res.stdout, "Host is unreachable") {
		t.Errorf("dial of the host's %s: stdout %q, want EHOSTUNREACH", addr, res.stdout)
	}
	srv.notReached(t)
	res = e.run("os", "--name", "allowed", e.simulatedApp(fmt.Sprintf("allow = [%q]\n", ip)), "--", "dial", addr)
	mustExit(t, res, 0)
	srv.reached(t)
	e.noLeaks()
}

// TestOSSimulatedUDP: a UDP forward reaches the app's UDP port, and its
// answer (to a loopback port that is not the app's: the forwarder's)
// comes back.
func TestOSSimulatedUDP(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	port := freePort(t, "udp")
	r := e.start("--name", "su", "--forward", fmt.Sprintf("127.0.0.1:%d:5353/udp", port), "--env", "APP_ID=su", e.simulatedApp(""), "--", "udp", ":5353")
	r.waitFor("listening 0.0.0.0:5353")
	if got := udpPing(t, port); got != "su: ping" {
		t.Errorf("UDP forward: got %q, want %q", got, "su: ping")
	}
	terminateAll(t, map[string]*osRun{"su": r})
	e.noLeaks(port)
}

// TestOSSimulatedLifecycle: --verbose says the mode and each port, ps
// shows it, stop ends the app (143), and nothing is left: not its state,
// not its forward, not its host port.
func TestOSSimulatedLifecycle(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	fwd := freePort(t, "tcp")
	r := e.start("--verbose", "--name", "life", "--forward", fmt.Sprintf("127.0.0.1:%d:8080", fwd), "--env", "APP_ID=life", e.simulatedApp(""), "--", "serve", ":8080")
	r.waitFor("listening 0.0.0.0:8080")
	host := e.simulatedPorts("life")["8080/tcp"]
	if st := e.containerState("life"); st.Net.Mode != "simulated" || st.Net.Path != "" {
		t.Errorf("state: network %+v, want mode simulated and no namespace", st.Net)
	}
	stop := e.run("stop", "life")
	mustExit(t, stop, 0)
	if code := r.wait(); code != 143 {
		t.Errorf("exit code %d after stop, want 143", code)
	}
	for _, want := range []string{
		"network mode: simulated (",
		fmt.Sprintf("guest port 8080/tcp is the host's %s (simulated isolation)", host),
		fmt.Sprintf("forward 127.0.0.1:%d/tcp -> 127.0.0.1:8080 through the dialer", fwd),
		"exited with status 143",
	} {
		if !strings.Contains(r.stderr.String(), want) {
			t.Errorf("--verbose output has no %q:\n%s", want, r.stderr)
		}
	}
	for _, addr := range []string{host.String(), net.JoinHostPort("127.0.0.1", strconv.Itoa(fwd))} {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after stop", addr)
		} else if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("dial %s after stop: %v, want connection refused", addr, err)
		}
	}
	e.noLeaks(fwd)
}

// TestOSSimulatedBadConfig: a value of isolation that is not true, false
// or "simulated", a host port forwarded twice, a bridge, instances or a
// --listen socket with simulated isolation: one clear error line, exit
// 125, nothing left (the --listen port not bound).
func TestOSSimulatedBadConfig(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	wasm := guests.Go(t, "netapp")
	port := freePort(t, "tcp")
	for _, tc := range []struct {
		network string
		args    []string
		want    string
	}{
		{"isolation = \"simulate\"\n", nil, `network.isolation = "simulate": want true, false or "simulated"`},
		{simulated, []string{"--forward", fmt.Sprintf("%d:80", port), "--forward", fmt.Sprintf("%d:81", port)}, fmt.Sprintf("both claim host port %d/tcp", port)},
		{simulated + "bridge = true\n", nil, `bridge = true needs a network namespace`},
		{simulated, []string{"--instances", "2"}, `--instances needs a network namespace`},
		{simulated, []string{"--listen", strconv.Itoa(port)}, `--listen needs a network namespace`},
	} {
		dir := e.app(map[string]string{"app.wasm": wasm}, "", tc.network)
		res := e.run(append(append([]string{"os", "--name", "bad"}, tc.args...), dir, "--", "serve", ":80")...)
		mustExit(t, res, ExitFailure)
		if l := lines(res.stderr); len(l) != 1 || !strings.Contains(l[0], tc.want) {
			t.Errorf("%q %v: stderr %q, want one line with %q", tc.network, tc.args, res.stderr, tc.want)
		}
	}
	e.noLeaks(port)
}

// TestOSSimulatedCrash: a kill -9 of the `wasmrun os` of an app with
// simulated isolation takes its container process, its forward and its
// host port with it; ps still works and the next run of the same name and
// forward succeeds; nothing is left after it.
func TestOSSimulatedCrash(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	dir := e.simulatedApp("")
	fwd := freePort(t, "tcp")
	args := []string{"--name", "crash", "--forward", fmt.Sprintf("127.0.0.1:%d:8080", fwd), "--env", "APP_ID=crash", dir, "--", "serve", ":8080"}
	r := e.start(args...)
	r.waitFor("listening 0.0.0.0:8080")
	pid := e.containerState("crash").Pid
	host := e.simulatedPorts("crash")["8080/tcp"]
	r.cmd.Process.Kill()
	r.wait()
	if !waitUntil(osTimeout, 10*time.Millisecond, func() bool { s := procState(pid); return s == "" || s == "Z" }) {
		t.Fatalf("container process %d still runs after its wasmrun os was killed", pid)
	}
	// Nothing of the app answers on its host port or its forward. (Tests
	// run in parallel: a freed port may be another's by now, or a dial
	// to a closed loopback port may connect to itself; neither greets as
	// the app does.)
	for _, addr := range []string{host.String(), net.JoinHostPort("127.0.0.1", strconv.Itoa(fwd))} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			continue
		}
		c.SetDeadline(time.Now().Add(time.Second))
		b, _ := io.ReadAll(io.LimitReader(c, 64))
		c.Close()
		if strings.Contains(string(b), "hello crash") {
			t.Errorf("%s still reaches the app after the kill", addr)
		}
	}
	mustExit(t, e.run("ps"), 0)
	again := e.start(args...)
	again.waitFor("listening 0.0.0.0:8080")
	if got := greeting(t, dialHost(net.JoinHostPort("127.0.0.1", strconv.Itoa(fwd)))); got != "hello crash" {
		t.Errorf("the forward of the next run: got %q", got)
	}
	terminateAll(t, map[string]*osRun{"crash": again})
	e.noLeaks(fwd)
}
