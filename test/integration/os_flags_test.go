package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// The flags `wasmrun os` shares with `run` (--listen, --resolv-conf,
// --hosts), the CNI plugin directory (--cni-path, CNI_PATH, cni_path),
// and its errors in the user's terms: each refusal is one line that names
// what the user gave, exit 125, and nothing left behind.

// mustRefuse fails t unless r is wasmrun's own failure: exit 125, one line
// on stderr containing want and no namespace name of the env (which the
// user never chose), nothing on stdout.
func (e *osEnv) mustRefuse(r result, want string) {
	e.t.Helper()
	ls := lines(r.stderr)
	if r.code != ExitFailure || len(ls) != 1 || !strings.Contains(ls[0], want) || r.stdout != "" {
		e.t.Errorf("exit %d, stderr %q, stdout %q; want 125 and one line with %q", r.code, r.stderr, r.stdout, want)
	}
	if strings.Contains(r.stderr, e.prefix+"-") || strings.Contains(r.stderr, "create namespace") {
		e.t.Errorf("the error names a namespace: %q", r.stderr)
	}
}

// TestOSForwardErrors: a forward that cannot be is refused with the
// forward as the user wrote it: host port 0 and a bad port before anything
// is made, a port a host process holds, a port another app forwards (named
// by its app name).
func TestOSForwardErrors(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	idle := guests.C(t, "idle")
	dir := e.app1(idle)
	for _, tc := range []struct{ forward, want string }{
		{"0:3000", "wasmrun: --forward 0:3000: host port 0 is not a port (1-65535)"},
		{"127.0.0.1:0:3000/udp", "wasmrun: --forward 127.0.0.1:0:3000/udp: host port 0 is not a port"},
		{"70000:3000", "wasmrun: --forward 70000:3000: host port 70000 is not a port"},
		{"8080:0", "wasmrun: --forward 8080:0: guest port 0 is not a port"},
	} {
		e.mustRefuse(e.run("os", "--name", "fwd", "--forward", tc.forward, dir, "--", "1ms"), tc.want)
	}
	cfg := e.app(map[string]string{"app.wasm": idle}, "", "forward = [\"0:3000\"]\n")
	e.mustRefuse(e.run("os", "--name", "fwd", cfg, "--", "1ms"), `network.forward "0:3000": host port 0 is not a port`)
	e.noLeaks()

	t.Run("taken", func(t *testing.T) {
		requireCNI(t)
		e := e.with(t)
		tcpPort, udpPort := heldPort(t, "tcp"), heldPort(t, "udp")
		for _, tc := range []struct{ forward, want string }{
			{fmt.Sprintf("%d:3000", tcpPort), fmt.Sprintf("wasmrun: --forward %d:3000: port %d/tcp on the host is already in use by another process", tcpPort, tcpPort)},
			{fmt.Sprintf("127.0.0.1:%d:53/udp", udpPort), fmt.Sprintf("wasmrun: --forward 127.0.0.1:%d:53/udp: port %d/udp on the host is already in use by another process", udpPort, udpPort)},
		} {
			e.mustRefuse(e.run("os", "--name", "taken", "--forward", tc.forward, dir, "--", "1ms"), tc.want)
		}
		// A port another app of ours forwards: that app is named.
		port := freePort(t, "tcp")
		holder := e.start("--verbose", "--name", "holder", "--forward", fmt.Sprintf("%d:3000", port), dir, "--", "60s")
		holder.waitFor("running as pid")
		e.mustRefuse(e.run("os", "--name", "taker", "--forward", fmt.Sprintf("%d:80", port), dir, "--", "1ms"),
			fmt.Sprintf("--forward %d:80: port %d/tcp on the host is already in use by app holder (see wasmrun ps)", port, port))
		terminateAll(t, map[string]*osRun{"holder": holder})
		e.noLeaks(tcpPort, udpPort, port)
	})
}

// runEnv is run with env added to the command's environment.
func (e *osEnv) runEnv(env []string, args ...string) result {
	e.t.Helper()
	return runCommand(e.t, osTimeout, args, func(ctx context.Context) *exec.Cmd {
		c := e.command(ctx, args...)
		c.Env = append(c.Env, env...)
		return c
	})
}

// cniPluginDir is the directory of the installed CNI plugins.
func cniPluginDir(t testing.TB) string {
	requireCNI(t)
	for _, d := range []string{"/usr/lib/cni", "/opt/cni/bin"} {
		if fileExists(filepath.Join(d, "bridge")) {
			return d
		}
	}
	t.Skip("skipping: no CNI plugin directory has bridge")
	return ""
}

// TestOSCNIPath: the CNI plugin directory comes from --cni-path, CNI_PATH
// or cni_path in [network], in that order; a plugin missing there is one
// line naming where it looked, who said so, and the three ways to say it.
// A config's cni_path may not name a directory others can write: its
// plugins would run as root.
func TestOSCNIPath(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	wasm := guests.C(t, "args_env_exit")
	empty := filepath.Join(e.dir, "no-plugins")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	bridged := e.app(map[string]string{"app.wasm": wasm}, "", "bridge = true\n")
	how := "--cni-path DIR, CNI_PATH=DIR or cni_path in [network] of .wasmrun.toml"
	missing := func(from string) string {
		return fmt.Sprintf(`needs CNI plugin "bridge", not found in %s (%s): install containernetworking-plugins, or name their directory with %s`, empty, from, how)
	}
	e.mustRefuse(e.run("os", "--cni-path", empty, bridged, "--", "7"), missing("--cni-path"))
	e.mustRefuse(e.runEnv([]string{"CNI_PATH=" + empty}, "os", bridged, "--", "7"), missing("CNI_PATH"))
	keyed := e.app(map[string]string{"app.wasm": wasm}, "", fmt.Sprintf("bridge = true\ncni_path = %q\n", empty))
	e.mustRefuse(e.run("os", keyed, "--", "7"), missing("network.cni_path"))
	e.mustRefuse(e.run("os", "--cni-path", filepath.Join(e.dir, "nope"), bridged, "--", "7"),
		"--cni-path "+filepath.Join(e.dir, "nope")+": no such file or directory")

	// The abuse: an app whose config points at plugins anyone could have
	// written. Nothing of them runs.
	marker := filepath.Join(e.dir, "plugin-ran")
	evil := filepath.Join(e.dir, "evil")
	if err := os.Mkdir(evil, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(evil, 0o777)
	for _, p := range []string{"bridge", "host-local", "portmap"} {
		writeFile(t, filepath.Join(evil, p), "#!/bin/sh\ntouch "+marker+"\n")
		os.Chmod(filepath.Join(evil, p), 0o755)
	}
	hostile := e.app(map[string]string{"app.wasm": wasm}, "", fmt.Sprintf("bridge = true\ncni_path = %q\n", evil))
	e.mustRefuse(e.run("os", hostile, "--", "7"), evil+" is writable by others")
	if fileExists(marker) {
		t.Errorf("a plugin of a directory anyone can write ran")
	}
	e.noLeaks()

	t.Run("found", func(t *testing.T) {
		plugins := cniPluginDir(t)
		e := e.with(t)
		// Given, they replace the defaults, and the app gets its bridge.
		mustExit(t, e.run("os", "--name", "flag", "--cni-path", empty+":"+plugins, bridged, "--", "7"), 7)
		mustExit(t, e.runEnv([]string{"CNI_PATH=" + plugins}, "os", "--name", "env", bridged, "--", "7"), 7)
		keyed := e.app(map[string]string{"app.wasm": wasm}, "", fmt.Sprintf("bridge = true\ncni_path = %q\n", plugins))
		mustExit(t, e.run("os", "--name", "key", keyed, "--", "7"), 7)
		e.noLeaks()
	})
}

// pythonOSApp makes an app of the env running main.py on the Python
// runtime, and returns it with the flags that find the runtime.
func (e *osEnv) pythonOSApp(main string) (string, []string) {
	e.t.Helper()
	rt := pythonRuntime(e.t)
	dir := e.app(nil, "", "")
	writeFile(e.t, filepath.Join(dir, "main.py"), main)
	return dir, []string{"--runtime-dir", filepath.Dir(rt), "--language", "python"}
}

// pythonListen finds the socket of --listen among the app's descriptors
// (after its preopens), tries to take port 81 itself, and serves "hello"
// on the socket once.
const pythonListen = `
import socket
for fd in range(3, 64):
    try:
        s = socket.socket(fileno=fd)
        break
    except OSError:
        pass
print("listening", s.getsockname()[1], flush=True)
try:
    socket.socket().bind(("0.0.0.0", 81))
    print("bind81 ok", flush=True)
except OSError as e:
    print("bind81", type(e).__name__, flush=True)
c, _ = s.accept()
c.sendall(b"hello from the namespace")
c.close()
`

// TestOSListen: --listen makes the socket inside the app's namespace
// (a port a host process holds is free there), as root, so a port below
// 1024 works; the guest gets the socket, not the privilege: it cannot
// bind port 81 itself. A forward reaches the socket. An address the
// namespace does not have is one line, and nothing stays.
func TestOSListen(t *testing.T) {
	t.Parallel()
	requireCNI(t)
	e := newOSEnv(t)
	app, flags := e.pythonOSApp(pythonListen)
	held := heldPort(t, "tcp")
	for _, tc := range []struct{ name, listen string }{{"low", "80"}, {"held", strconv.Itoa(held)}} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			guestPort, _ := strconv.Atoi(tc.listen)
			port := freePort(t, "tcp")
			r := e.start(append(flags, "--name", "listen-"+tc.name, "--listen", tc.listen,
				"--forward", fmt.Sprintf("%d:%d", port, guestPort), app)...)
			r.waitFor("bind81")
			if got := field(t, r.stdout.String(), "listening"); got != tc.listen {
				t.Errorf("the guest's socket listens on %q, want %s", got, tc.listen)
			}
			if got := field(t, r.stdout.String(), "bind81"); got != "PermissionError" {
				t.Errorf("binding port 81 itself: %q, want PermissionError", got)
			}
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), sockWait)
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(sockWait))
			b := make([]byte, 64)
			n, _ := c.Read(b)
			c.Close()
			if string(b[:n]) != "hello from the namespace" {
				t.Errorf("through the forward: %q", b[:n])
			}
			if code := r.wait(); code != 0 {
				t.Errorf("exit %d\nstderr:\n%s", code, r.stderr)
			}
			e.noLeaks(port)
		})
	}
	e.mustRefuse(e.run(append(append([]string{"os"}, flags...), "--listen", "192.0.2.1:8080", app)...),
		"listen on 192.0.2.1:8080 in the container's network namespace: bind: cannot assign requested address")
	e.noLeaks()
}

// TestOSResolverFlags: --resolv-conf and --hosts replace the files the
// app's getaddrinfo reads; the nameserver they name is the host's to
// reach (this one is on the host's loopback, which the app's namespace
// does not share). A missing name is EAI_NONAME, also when the server
// fails the AAAA query after saying the name does not exist. A resolver
// file the app's user cannot read is refused before the app starts.
func TestOSResolverFlags(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	app, flags := e.pythonOSApp(pythonResolveOS)
	dns := startShapedDNS(t, map[string][]net.IP{dnsName: {net.IPv4(127, 0, 0, 7)}}, "servfail")
	files := resolverFiles(t, "127.0.0.1 localhost\n127.0.0.42 only-in-hosts.wasmrun.test\n", dns.IP)
	name := strings.TrimSuffix(dnsName, ".")
	r := e.run(append(append(append([]string{"os"}, flags...), files...), app, "--", "only-in-hosts.wasmrun.test", name, "nosuch.wasmrun.test")...)
	mustExit(t, r, 0)
	wantFields(t, r.stdout, map[string]string{
		"only-in-hosts.wasmrun.test": "127.0.0.42",
		name:                         "127.0.0.7",
		"nosuch.wasmrun.test":        "EAI_NONAME Name or service not known",
	})
	if dns.Queries.Load() == 0 {
		t.Errorf("the DNS server of --resolv-conf was not asked")
	}

	// Another user's private file: the app's user, whoever it is, has
	// no capability to read it.
	secret := filepath.Join(e.dir, "private-hosts")
	writeFile(t, secret, "127.0.0.9 secret.wasmrun.test\n")
	os.Chmod(secret, 0o600)
	if err := os.Chown(secret, 12345, 12345); err != nil {
		t.Fatal(err)
	}
	e.mustRefuse(e.run(append(append([]string{"os", "--hosts", secret}, flags...), app, "--", "secret.wasmrun.test")...),
		"--hosts "+secret+": is not readable by the container's user")
	e.noLeaks()
}

// TestOSRootlessForwardErrors: without root, where the userspace
// forwarder takes the host ports, a taken one and port 0 are refused the
// same way, and nothing stays.
func TestOSRootlessForwardErrors(t *testing.T) {
	t.Parallel()
	e := newRootlessEnv(t)
	app := e.app("")
	held := heldPort(t, "tcp")
	for _, tc := range []struct{ forward, want string }{
		{fmt.Sprintf("%d:3000", held), fmt.Sprintf("wasmrun: --forward %d:3000: port %d/tcp on the host is already in use by another process", held, held)},
		{"0:3000", "wasmrun: --forward 0:3000: host port 0 is not a port (1-65535)"},
	} {
		r := e.run(nil, "os", "--name", "rlfwd", "--forward", tc.forward, app, "--", "serve", ":3000")
		if ls := lines(r.stderr); r.code != ExitFailure || len(ls) != 1 || ls[0] != tc.want {
			t.Errorf("--forward %s: exit %d, stderr %q; want 125 and %q", tc.forward, r.code, r.stderr, tc.want)
		}
	}
	e.noLeaks() // (the held port is ours)
}
