package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/wasmrun/wasmrun/internal/guests"
	"github.com/wasmrun/wasmrun/internal/testdns"
)

// WASI errnos the egress_attack guest prints.
const (
	wasiECONNREFUSED = "14"
	wasiEHOSTUNREACH = "23"
	wasiENETUNREACH  = "40"
)

// outsideHost is a test's outside world: a network namespace of its own
// with a veth to the host (the host's end 10.239.N.1, its own 10.239.N.2)
// and a TCP server on its address that counts connections.
type outsideHost struct {
	hostAddr string // the host's end: an address of the host itself
	addr     string // the outside host's address
	port     int    // its TCP server's
	accepted atomic.Int32
	udpPort  int // its UDP receiver's, which counts datagrams
	received atomic.Int32
}

// newOutsideHost makes the outside host of env e, removed when t ends.
func newOutsideHost(t *testing.T, e *osEnv) *outsideHost {
	t.Helper()
	n := strings.Split(e.subnet, ".")[2] // unique per env, as the subnet
	o := &outsideHost{hostAddr: "10.239." + n + ".1", addr: "10.239." + n + ".2"}
	name, veth := e.prefix+"out", e.prefix+"o"
	mustIP(t, "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() }) // takes the veth with it
	mustIP(t, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name)
	mustIP(t, "addr", "add", o.hostAddr+"/24", "dev", veth)
	mustIP(t, "link", "set", veth, "up")
	mustIP(t, "-n", name, "addr", "add", o.addr+"/24", "dev", "eth0")
	mustIP(t, "-n", name, "link", "set", "eth0", "up")
	mustIP(t, "-n", name, "link", "set", "lo", "up")
	var l net.Listener
	var u net.PacketConn
	err := ns.WithNetNSPath("/run/netns/"+name, func(ns.NetNS) (err error) {
		if l, err = net.Listen("tcp", o.addr+":0"); err == nil {
			u, err = net.ListenPacket("udp", o.addr+":0")
		}
		return err
	})
	if err != nil {
		t.Fatalf("listen in the outside host: %v", err)
	}
	o.port = l.Addr().(*net.TCPAddr).Port
	serve(t, l, func(net.Conn) { o.accepted.Add(1) })
	o.udpPort = u.LocalAddr().(*net.UDPAddr).Port
	t.Cleanup(func() { u.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			if _, _, err := u.ReadFrom(buf); err != nil {
				return
			}
			o.received.Add(1)
		}
	}()
	return o
}

// mustIP runs ip ARGS... for the test, which it fails if ip does.
func mustIP(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// connectStep is the egress_attack step connecting to addr:port, and the
// line it prints with errno.
func connectStep(addr string, port int, errno string) ([]string, string) {
	p := strconv.Itoa(port)
	return []string{"connect", "V1", addr, p}, fmt.Sprintf("connect V1 %s %s errno %s", addr, p, errno)
}

// TestOSOutbound: a default app (no [network] settings) reaches the outside
// world, with nothing set up for it but its namespace; it still reaches
// neither the host itself (the host's end of the outside's veth, with a
// server on every address) nor the host's loopback; `outbound = false`
// reaches nothing outside.
func TestOSOutbound(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	out := newOutsideHost(t, e)
	host := newHostListenerAll(t) // on the host's every address
	hostUDP := newHostUDPReceiver(t)
	_, p, _ := net.SplitHostPort(host.addr)
	hostPort, _ := strconv.Atoi(p)
	wasm := guests.C(t, "egress_attack")

	for _, tc := range []struct {
		name, network string
		outside       string // errno of the outside connect and datagram
	}{
		{"default", "", "0"},
		{"outbound = false", "outbound = false\n", wasiENETUNREACH},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := out.accepted.Load()
			var args, want []string
			for _, c := range []struct {
				addr  string
				port  int
				errno string
			}{
				{out.addr, out.port, tc.outside},
				{out.hostAddr, hostPort, wasiEHOSTUNREACH},
				{"127.0.0.1", hostPort, wasiECONNREFUSED}, // its own loopback
			} {
				if tc.outside != "0" && c.errno == wasiEHOSTUNREACH {
					c.errno = wasiENETUNREACH // no way out at all
				}
				a, w := connectStep(c.addr, c.port, c.errno)
				args, want = append(args, a...), append(want, w)
			}
			// A datagram out, and one to the host's own address.
			hostErrno := wasiEHOSTUNREACH
			if tc.outside != "0" {
				hostErrno = wasiENETUNREACH
			}
			for _, d := range []struct {
				addr  string
				port  int
				errno string
			}{{out.addr, out.udpPort, tc.outside}, {out.hostAddr, hostUDP.port, hostErrno}} {
				p := strconv.Itoa(d.port)
				args = append(args, "sendto", "V1", d.addr, p)
				want = append(want, fmt.Sprintf("sendto V1 %s %s errno %s", d.addr, p, d.errno))
			}
			receivedBefore := out.received.Load()
			app := e.app(map[string]string{"app.wasm": wasm}, "", tc.network)
			r := e.run(append([]string{"os", "-v", app, "--"}, args...)...)
			mustExit(t, r, 0)
			if got := strings.Join(lines(r.stdout), "\n"); got != strings.Join(want, "\n") {
				t.Errorf("guest reported:\n%s\nwant:\n%s\nstderr:\n%s", got, strings.Join(want, "\n"), r.stderr)
			}
			if got := out.accepted.Load() - before; (tc.outside == "0") != (got == 1) {
				t.Errorf("the outside host accepted %d connections", got)
			}
			if tc.outside == "0" && !waitUntil(10*time.Second, 10*time.Millisecond, func() bool { return out.received.Load() > receivedBefore }) {
				t.Errorf("the outside host got no datagram")
			}
		})
	}
	host.notReached(t)
	if n := hostUDP.got.Load(); n != 0 {
		t.Errorf("the host's UDP receiver got %d datagrams from the isolated guest", n)
	}
	e.noLeaks()
}

// hostUDPReceiver is a UDP receiver on every address of the host, counting
// datagrams.
type hostUDPReceiver struct {
	port int
	got  atomic.Int32
}

func newHostUDPReceiver(t *testing.T) *hostUDPReceiver {
	u, err := net.ListenPacket("udp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	r := &hostUDPReceiver{port: u.LocalAddr().(*net.UDPAddr).Port}
	go func() {
		buf := make([]byte, 64)
		for {
			if _, _, err := u.ReadFrom(buf); err != nil {
				return
			}
			r.got.Add(1)
		}
	}()
	return r
}

// TestOSOutboundNewHostAddress: an address the host gains after an app
// started (an interface comes up: here the outside host's link) is the
// host's too: the app is refused it as it is the host's other addresses,
// in its own namespace (out through host sockets: the block list it got
// at its create lacks the address, the one its next host socket brings
// has it), under simulated isolation (its process, in the host's
// namespace, follows the host's addresses itself: a netlink socket read
// at each connect) and on the bridge (its namespace's rules name the
// host's addresses of its start; the bridge's host guard refuses what
// comes to the host itself). Nor does a datagram to the broadcast address
// of the new network reach a host service on every address (bridge,
// simulated: it did).
func TestOSOutboundNewHostAddress(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, network string }{{"namespace", ""}, {"simulated", simulated}, {"bridge", "bridge = true\n"}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "bridge" {
				requireCNI(t)
			}
			e := newOSEnv(t)
			host := newHostListenerAll(t)
			_, p, _ := net.SplitHostPort(host.addr)
			hostPort, _ := strconv.Atoi(p)
			// A host UDP service on every address, which counts.
			u, err := net.ListenPacket("udp4", ":0")
			if err != nil {
				t.Fatal(err)
			}
			defer u.Close()
			var got atomic.Int32
			go func() {
				buf := make([]byte, 64)
				for {
					if _, _, err := u.ReadFrom(buf); err != nil {
						return
					}
					got.Add(1)
				}
			}()
			udpPort := strconv.Itoa(u.LocalAddr().(*net.UDPAddr).Port)
			app := e.app(map[string]string{"app.wasm": guests.C(t, "egress_attack")}, "", tc.network)
			stdin, toGuest, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer toGuest.Close()
			// The outside host's addresses are known before its link exists.
			n := strings.Split(e.subnet, ".")[2]
			hostAddr, outAddr, bcast := "10.239."+n+".1", "10.239."+n+".2", "10.239."+n+".255"
			first, want1 := connectStep(hostAddr, hostPort, wasiEHOSTUNREACH)
			steps := append(append([]string{"wait"}, first...), "sendto", "V1", bcast, udpPort, "bsendto", "V1", bcast, udpPort)
			run := e.startCmd(func(cmd *exec.Cmd) { cmd.Stdin = stdin }, append([]string{app, "--"}, steps...)...)
			stdin.Close()
			run.waitFor("ready")
			out := newOutsideHost(t, e) // the host gains hostAddr now
			if out.hostAddr != hostAddr || out.addr != outAddr {
				t.Fatalf("outside host at %s/%s, want %s/%s", out.hostAddr, out.addr, hostAddr, outAddr)
			}
			fmt.Fprintln(toGuest, "go")
			if code := run.wait(); code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, run.stdout, run.stderr)
			}
			if ls := lines(run.stdout.String()); len(ls) != 4 || ls[0] != "ready" || ls[1] != want1 {
				t.Errorf("guest reported:\n%s\nwant:\nready\n%s\n(then its datagrams)", run.stdout, want1)
			}
			host.notReached(t)
			// A datagram the host's services would have had is there by
			// now: the guest's sends were done before it exited.
			if k := got.Load(); k != 0 {
				t.Errorf("the host's UDP service got %d datagrams sent to %s", k, bcast)
			}
			e.noLeaks()
		})
	}
}

// TestOSOutboundHostResolver: a default app resolves names with the host's
// resolver, as the host does: the host's /etc/resolv.conf (here, in a
// private mount namespace, one naming a DNS server on the host's loopback,
// which the app's own loopback is not) answers, and the app connects to
// the address; under outbound = false no query leaves the app.
func TestOSOutboundHostResolver(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	out := newOutsideHost(t, e)
	dns := testdns.Start(t, map[string][]net.IP{"web.wasmrun.test.": {net.ParseIP(out.addr)}})
	rc := filepath.Join(e.dir, "resolv.conf")
	writeFile(t, rc, "nameserver "+dns.IP+"\noptions timeout:2 attempts:1\n")
	wasm := guests.C(t, "egress_attack")
	for _, tc := range []struct {
		name, network   string
		exists, missing string // errnos: EAI_AGAIN 78, EAI_NONAME 84
		queries         bool
	}{
		{"default", "", "0", "84", true},
		// The nameserver is then on the app's own loopback: nobody there.
		{"outbound = false", "outbound = false\n", "78", "78", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := dns.Queries.Load()
			app := e.app(map[string]string{"app.wasm": wasm}, "", tc.network)
			run := e.startCmd(hostResolvConf(t, rc), app, "--", "resolve", "web.wasmrun.test", "resolve", "missing.wasmrun.test")
			if code := run.wait(); code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, run.stdout, run.stderr)
			}
			want := "resolve web.wasmrun.test errno " + tc.exists + "\nresolve missing.wasmrun.test errno " + tc.missing
			if got := strings.TrimSpace(run.stdout.String()); got != want {
				t.Errorf("guest reported:\n%s\nwant:\n%s\nstderr:\n%s", got, want, run.stderr)
			}
			if got := dns.Queries.Load() - before; (got > 0) != tc.queries {
				t.Errorf("the host's DNS server got %d queries; want some: %v", got, tc.queries)
			}
		})
	}
	if _, err := os.Stat("/etc/resolv.conf"); err != nil {
		t.Errorf("the host's resolv.conf: %v", err)
	}
	e.noLeaks()
}

// TestOSOutboundRebinding: an allowed host name whose DNS server points
// it at the host's own address (DNS rebinding; 169.254.169.254 the same
// way) opens nothing an app in its own namespace may not reach: the name
// resolves, and the connect to its address is EHOSTUNREACH, the host's
// server sees nothing. Another allowed name, of an outside host, works as
// before; an address entry still opens the host's address.
func TestOSOutboundRebinding(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	out := newOutsideHost(t, e)
	host := newHostListenerAll(t)
	_, p, _ := net.SplitHostPort(host.addr)
	hostPort, _ := strconv.Atoi(p)
	dns := testdns.Start(t, map[string][]net.IP{
		"web.wasmrun.test.":    {net.ParseIP(out.addr)},
		"rebind.wasmrun.test.": {net.ParseIP(out.hostAddr)},
	})
	rc := filepath.Join(e.dir, "resolv.conf")
	writeFile(t, rc, "nameserver "+dns.IP+"\noptions timeout:2 attempts:1\n")
	wasm := guests.C(t, "egress_attack")
	steps := func(rebind string) ([]string, string) {
		var args, want []string
		for _, s := range []struct {
			args []string
			want string
		}{
			{[]string{"resolve", "rebind.wasmrun.test"}, "resolve rebind.wasmrun.test errno 0"},
			{[]string{"resolve", "web.wasmrun.test"}, "resolve web.wasmrun.test errno 0"},
		} {
			args, want = append(args, s.args...), append(want, s.want)
		}
		a, w := connectStep(out.hostAddr, hostPort, rebind)
		args, want = append(args, a...), append(want, w)
		a, w = connectStep(out.addr, out.port, "0")
		args, want = append(args, a...), append(want, w)
		return args, strings.Join(want, "\n")
	}
	for _, tc := range []struct {
		name, network string
		errno         string // of the connect to the rebound address
	}{
		{"names only", `allow = ["rebind.wasmrun.test", "web.wasmrun.test"]` + "\n", wasiEHOSTUNREACH},
		{"and the host's address", `allow = ["rebind.wasmrun.test", "web.wasmrun.test", "` + out.hostAddr + `"]` + "\n", "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := out.accepted.Load()
			args, want := steps(tc.errno)
			app := e.app(map[string]string{"app.wasm": wasm}, "", tc.network)
			run := e.startCmd(hostResolvConf(t, rc), append([]string{app, "--"}, args...)...)
			if code := run.wait(); code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, run.stdout, run.stderr)
			}
			if got := strings.TrimSpace(run.stdout.String()); got != want {
				t.Errorf("guest reported:\n%s\nwant:\n%s\nstderr:\n%s", got, want, run.stderr)
			}
			if got := out.accepted.Load() - before; got != 1 {
				t.Errorf("the outside host accepted %d connections, want 1", got)
			}
			if tc.errno == "0" {
				host.reached(t)
			}
		})
	}
	host.notReached(t)
	e.noLeaks()
}

// hostResolvConf makes a `wasmrun os` command see rc as the host's
// /etc/resolv.conf: it runs in a mount namespace of its own with rc bound
// over the file (the host's stays as it is).
func hostResolvConf(t *testing.T, rc string) func(*exec.Cmd) {
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Fatal(err)
	}
	return func(cmd *exec.Cmd) {
		cmd.Args = append([]string{"unshare", "-m", "--propagation", "private", "sh", "-c",
			`mount --bind "$0" /etc/resolv.conf && exec "$@"`, rc, cmd.Path}, cmd.Args[1:]...)
		cmd.Path = unshare
	}
}

// TestPythonOSOutbound is the feature page's example, as written: a
// Python app resolves a name and connects to it, run as `wasmrun os APP`
// with no configuration; the host's resolver answers and the outside host
// is reached.
func TestPythonOSOutbound(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	rt := pythonRuntime(t)
	out := newOutsideHost(t, e)
	dns := testdns.Start(t, map[string][]net.IP{"web.wasmrun.test.": {net.ParseIP(out.addr)}})
	rc := filepath.Join(e.dir, "resolv.conf")
	writeFile(t, rc, "nameserver "+dns.IP+"\noptions timeout:2 attempts:1\n")
	dir := e.app(nil, "", "")
	writeFile(t, filepath.Join(dir, "main.py"), `
import socket, sys
with socket.create_connection(("web.wasmrun.test", int(sys.argv[1])), timeout=20) as s:
    print("connected", s.getpeername()[0])
`)
	run := e.startCmd(hostResolvConf(t, rc), "--runtime-dir", filepath.Dir(rt), dir, "--", strconv.Itoa(out.port))
	if code := run.wait(); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, run.stdout, run.stderr)
	}
	if got, want := strings.TrimSpace(run.stdout.String()), "connected "+out.addr; got != want {
		t.Errorf("app printed %q, want %q", got, want)
	}
	if out.accepted.Load() != 1 || dns.Queries.Load() == 0 {
		t.Errorf("the outside host accepted %d connections, the host's DNS server got %d queries", out.accepted.Load(), dns.Queries.Load())
	}
	e.noLeaks()
}

// TestOSRelayInQuota: a guest that sends UDP datagrams as fast as it can
// makes the `wasmrun os` process relay each one (check it, send it out
// of a host socket): work of the host's done at the guest's will. It is
// done on a thread of that process that is in the app's cpu cgroup, so it
// counts in the app's --cpus quota and is throttled with the guest, not
// taken from the rest of the machine. The datagrams still go out; the
// cgroup still goes with the app.
func TestOSRelayInQuota(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	e := newOSEnv(t)
	out := newOutsideHost(t, e)
	app := e.app(map[string]string{"app.wasm": guests.C(t, "egress_attack")}, "", "")
	port := strconv.Itoa(out.udpPort)
	run := e.start("--name", "flood", "--cpus", "0.2", app, "--", "flood", out.addr, port, "3000")
	run.waitFor("flooding")
	cg := "/sys/fs/cgroup/cpu/wasmrun/" + e.prefix + "-flood"
	pid := run.cmd.Process.Pid
	var relayer string // a thread of the wasmrun process in the app's cgroup
	if !waitUntil(10*time.Second, 10*time.Millisecond, func() bool {
		b, _ := os.ReadFile(cg + "/tasks")
		for _, tid := range strings.Fields(string(b)) {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d/task/%s", pid, tid)); err == nil {
				relayer = tid
				return true
			}
		}
		return false
	}) {
		b, _ := os.ReadFile(cg + "/tasks")
		t.Fatalf("no thread of wasmrun os (pid %d) is in the app's cpu cgroup while its guest floods: tasks %q\nstderr:\n%s", pid, b, run.stderr)
	}
	var cpu int
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, relayer)); err == nil {
		f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
		utime, _ := strconv.Atoi(f[11])
		stime, _ := strconv.Atoi(f[12])
		cpu = utime + stime
	}
	if code := run.wait(); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, run.stdout, run.stderr)
	}
	var sent, errno int
	if _, err := fmt.Sscanf(lastLine(run.stdout.String()), "flood "+out.addr+" "+port+" sent %d errno %d", &sent, &errno); err != nil || sent == 0 || errno != 0 {
		t.Errorf("the guest reported %q", run.stdout)
	}
	if out.received.Load() == 0 {
		t.Errorf("no datagram reached the outside host")
	}
	t.Logf("thread %s of wasmrun os relayed in the app's cgroup (%d ticks of CPU when looked at); %d datagrams sent, %d received", relayer, cpu, sent, out.received.Load())
	e.noLeaks()
}

// TestOSOutboundLocalRoutes: the host delivers to itself more than its
// interfaces' addresses: the whole prefix of an address on lo, and any
// `ip route add local` prefix. A host service listening on every address
// answers there, so an app is refused them as it is the host's own
// addresses (EHOSTUNREACH), TCP and UDP: its block list is the host's
// local routing table.
func TestOSOutboundLocalRoutes(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	e := newOSEnv(t)
	n := strings.Split(e.subnet, ".")[2] // unique per env
	onLo, local := "10.233."+n+".1/24", "10.232."+n+".0/24"
	mustIP(t, "addr", "add", onLo, "dev", "lo")
	t.Cleanup(func() { exec.Command("ip", "addr", "del", onLo, "dev", "lo").Run() })
	mustIP(t, "route", "add", "local", local, "dev", "lo")
	t.Cleanup(func() { exec.Command("ip", "route", "del", "local", local, "dev", "lo", "table", "local").Run() })
	host := newHostListenerAll(t)
	hostUDP := newHostUDPReceiver(t)
	_, p, _ := net.SplitHostPort(host.addr)
	port, _ := strconv.Atoi(p)
	var args, want []string
	for _, addr := range []string{"10.233." + n + ".5", "10.232." + n + ".5"} {
		a, w := connectStep(addr, port, wasiEHOSTUNREACH)
		args, want = append(args, a...), append(want, w)
		up := strconv.Itoa(hostUDP.port)
		args = append(args, "sendto", "V1", addr, up)
		want = append(want, fmt.Sprintf("sendto V1 %s %s errno %s", addr, up, wasiEHOSTUNREACH))
	}
	app := e.app(map[string]string{"app.wasm": guests.C(t, "egress_attack")}, "", "")
	r := e.run(append([]string{"os", app, "--"}, args...)...)
	mustExit(t, r, 0)
	if got := strings.Join(lines(r.stdout), "\n"); got != strings.Join(want, "\n") {
		t.Errorf("guest reported:\n%s\nwant:\n%s\nstderr:\n%s", got, strings.Join(want, "\n"), r.stderr)
	}
	host.notReached(t)
	if n := hostUDP.got.Load(); n != 0 {
		t.Errorf("the host's UDP receiver got %d datagrams from the isolated guest", n)
	}
	e.noLeaks()
}

// TestOSOutboundSocketOwner: the host sockets that root's `wasmrun os`
// makes for an app of another user are that user's, so the host's own
// rules about what a user may reach (iptables' owner match) hold for its
// apps too: an app of a user the host refuses the outside host to cannot
// connect there.
func TestOSOutboundSocketOwner(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	e := newOSEnv(t)
	out := newOutsideHost(t, e)
	n, _ := strconv.Atoi(strings.Split(e.subnet, ".")[2])
	uid := strconv.Itoa(47000 + n) // unique per env, as the subnet
	rule := []string{"OUTPUT", "-m", "owner", "--uid-owner", uid, "-d", out.addr, "-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"}
	if b, err := exec.Command("iptables", append([]string{"-w", "-I"}, rule...)...).CombinedOutput(); err != nil {
		t.Fatalf("iptables: %v: %s", err, b)
	}
	t.Cleanup(func() { exec.Command("iptables", append([]string{"-w", "-D"}, rule...)...).Run() })
	app := readableApp(t, map[string]string{"app.wasm": guests.C(t, "egress_attack")})
	cfg := filepath.Join(e.dir, "owner.toml")
	writeFile(t, cfg, fmt.Sprintf("user = \"%s:%s\"\n[network]\n%s", uid, uid, e.config()))
	a, w := connectStep(out.addr, out.port, wasiECONNREFUSED)
	before := out.accepted.Load()
	r := e.run(append([]string{"os", "--config", cfg, app, "--"}, a...)...)
	mustExit(t, r, 0)
	if got := strings.TrimSpace(r.stdout); got != w {
		t.Errorf("guest of user %s reported %q, want %q (the host refuses that user the outside host)\nstderr:\n%s", uid, got, w, r.stderr)
	}
	if got := out.accepted.Load() - before; got != 0 {
		t.Errorf("the outside host accepted %d connections from user %s's app", got, uid)
	}
	e.noLeaks()
}
