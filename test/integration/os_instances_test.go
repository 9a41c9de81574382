package integration

import (
	"bufio"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// The `wasmrun os --instances` tests: N instances of a module in one
// container process, all behind the app's forwards.

// instanceOf connects to addr, reads the server's "instance K" line and
// sends cmd (when not "") as one line; it returns K ("" when the
// connection failed: an instance may be going away under the test).
func instanceOf(t *testing.T, addr, cmd string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	k, ok := strings.CutPrefix(strings.TrimSpace(line), "instance ")
	if err != nil || !ok {
		return ""
	}
	if cmd != "" {
		fmt.Fprintln(c, cmd)
	}
	return k
}

// seeAll connects to addr (at most 500 times, within osTimeout) until
// every instance of want has answered.
func seeAll(t *testing.T, addr string, want ...string) {
	t.Helper()
	seen := map[string]int{}
	deadline := time.Now().Add(osTimeout)
	for i := 0; i < 500 && time.Now().Before(deadline); i++ {
		seen[instanceOf(t, addr, "")]++
		all := true
		for _, k := range want {
			all = all && seen[k] > 0
		}
		if all {
			return
		}
	}
	t.Fatalf("connections to %s reached instances %v, want all of %q", addr, seen, want)
}

// TestOSInstances: two instances of a server behind one forward both get
// connections (the kernel spreads them: SO_REUSEPORT), through CNI portmap
// (127.0.0.1) and through the userspace forwarder ([::1]); one that traps and
// one that exits are replaced under their numbers while the other serves;
// ps shows the count; wasmrun stop ends all and leaves nothing.
func TestOSInstances(t *testing.T) {
	t.Parallel()
	requireCNI(t)
	e := newOSEnv(t)
	dir := e.app1(guests.Go(t, "instances"))
	port, port6 := freePort(t, "tcp"), freePort(t, "tcp")
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	r := e.start("--name", "two", "--instances", "2", "--verbose", "--forward", fmt.Sprintf("127.0.0.1:%d:8080", port),
		"--forward", fmt.Sprintf("[::1]:%d:8080", port6), dir, "--", "serve", ":8080")
	r.waitFor("instance 0 listening 0.0.0.0:8080")
	r.waitFor("instance 1 listening 0.0.0.0:8080")
	r.waitFor("app two runs 2 instances of its module")

	ps := e.run("ps")
	mustExit(t, ps, 0)
	if ls := lines(ps.stdout); len(ls) != 2 || strings.Fields(ls[1])[3] != "2" {
		t.Errorf("wasmrun ps: want the app with 2 instances:\n%s", ps.stdout)
	}
	seeAll(t, addr, "0", "1")
	seeAll(t, net.JoinHostPort("::1", strconv.Itoa(port6)), "0", "1")

	// One instance ends, by a trap and then by an exit: the other keeps
	// serving, and it is replaced under its number.
	listening := func(k string) int {
		return strings.Count(r.stdout.String(), "instance "+k+" listening 0.0.0.0:8080")
	}
	for _, end := range []struct{ cmd, says string }{
		{"trap", "trapped; starting it again in "},
		{"exit", "exited with status 3; starting it again in "},
	} {
		before := map[string]int{"0": listening("0"), "1": listening("1")}
		k := ""
		for tries := 0; k == "" && tries < 100; tries++ {
			k = instanceOf(t, addr, end.cmd)
		}
		if k == "" {
			t.Fatalf("%s: no instance answered\nstderr:\n%s", end.cmd, r.stderr)
		}
		r.waitFor("wasmrun: instance " + k + " " + end.says)
		if end.cmd == "trap" {
			r.waitFor("wasmrun: instance " + k + ": guest trapped: wasm error: unreachable")
		}
		if got := instanceOf(t, addr, ""); got == "" {
			t.Errorf("after instance %s's %s, the app does not answer\nstderr:\n%s", k, end.cmd, r.stderr)
		}
		if !waitUntil(osTimeout, 10*time.Millisecond, func() bool { return listening(k) > before[k] }) {
			t.Fatalf("instance %s was not started again after its %s\nstdout:\n%s\nstderr:\n%s", k, end.cmd, r.stdout, r.stderr)
		}
		seeAll(t, addr, "0", "1")
	}
	if n := strings.Count(r.stderr.String(), "starting it again"); n != 2 {
		t.Errorf("%d replacements, want 2 (one per end)\nstderr:\n%s", n, r.stderr)
	}

	stop := e.run("stop", "two")
	mustExit(t, stop, 0)
	if code := r.wait(); code != 143 {
		t.Errorf("exit code %d after wasmrun stop, want 143\nstderr:\n%s", code, r.stderr)
	}
	e.noLeaks(port, port6)
}

// TestOSInstancesAllExit: instances = 2 in .wasmrun.toml; each instance
// gets WASMRUN_INSTANCE, and when every instance has ended the app ends
// with the exit code, as one instance would.
func TestOSInstancesAllExit(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	dir := e.app(map[string]string{"app.wasm": guests.C(t, "args_env_exit")}, "instances = 2", "")
	r := e.run("os", dir, "--", "7")
	mustExit(t, r, 7)
	for _, k := range []string{"0", "1"} {
		if !strings.Contains(r.stdout, "env [WASMRUN_INSTANCE="+k+"]") {
			t.Errorf("no instance %s in the output:\n%s", k, r.stdout)
		}
	}
	e.noLeaks()

	// One instance (the default) has no WASMRUN_INSTANCE, as before.
	one := e.run("os", "--instances", "1", dir, "--", "0")
	mustExit(t, one, 0)
	if strings.Contains(one.stdout, "WASMRUN_INSTANCE") {
		t.Errorf("one instance sees WASMRUN_INSTANCE:\n%s", one.stdout)
	}
}

// TestOSInstancesBadCount: a bad --instances or instances, or instances
// on the host network, is one error line, exit 125, and nothing made.
func TestOSInstancesBadCount(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	dir := e.app1(guests.C(t, "args_env_exit"))
	for _, v := range []string{"0", "-3", "abc", "257"} {
		r := e.run("os", "--instances", v, dir, "--", "0")
		mustExit(t, r, ExitFailure)
		if ls := lines(r.stderr); len(ls) != 1 || !strings.Contains(ls[0], "--instances") || r.stdout != "" {
			t.Errorf("--instances %s: want one error line, got stdout %q stderr %q", v, r.stdout, r.stderr)
		}
	}
	bad := e.app(map[string]string{"app.wasm": guests.C(t, "args_env_exit")}, "instances = 0", "")
	r := e.run("os", bad, "--", "0")
	mustExit(t, r, ExitFailure)
	if ls := lines(r.stderr); len(ls) != 1 || !strings.Contains(ls[0], "instances = 0") {
		t.Errorf("instances = 0: want one error line naming it, got %q", r.stderr)
	}
	// Abuse: on the host network, ports bound with SO_REUSEPORT could be
	// joined by any process of the app's user (and it could join theirs,
	// taking part of their connections): instances need a namespace.
	host := e.app(map[string]string{"app.wasm": guests.C(t, "args_env_exit")}, "instances = 2", "isolation = false\n")
	r = e.run("os", host, "--", "0")
	mustExit(t, r, ExitFailure)
	if ls := lines(r.stderr); len(ls) != 1 || !strings.Contains(ls[0], "--instances needs network isolation") || r.stdout != "" {
		t.Errorf("instances on the host network: want one refusal line and no run, got stdout %q stderr %q", r.stdout, r.stderr)
	}
	e.noLeaks()
}

// TestOSInstancesSignalHandlers: instances of an app that handles SIGTERM
// (Node's process.on) each run their handler on `wasmrun stop`, none is
// replaced, and the app exits with the handlers' status (0), as one
// instance does.
func TestOSInstancesSignalHandlers(t *testing.T) {
	e := newOSEnv(t)
	nodeWasmPath, cache := nodeWasm(t)
	dir := e.app(nil, "", "")
	writeFile(t, filepath.Join(dir, "index.js"), nodeSignalApp)
	r := e.start("--runtime-dir", filepath.Dir(nodeWasmPath), "--cache-dir", cache, "--name", "nodes", "--instances", "2", dir)
	if !waitUntil(osTimeout, 10*time.Millisecond, func() bool { return strings.Count(r.stdout.String(), "listening") == 2 }) {
		t.Fatalf("two instances did not both listen\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	stop := e.run("stop", "nodes")
	mustExit(t, stop, 0)
	if code := r.wait(); code != 0 {
		t.Errorf("wasmrun os exited %d after wasmrun stop, want 0 (the handlers' exit)\nstdout:\n%s\nstderr:\n%s", code, r.stdout, r.stderr)
	}
	if n := strings.Count(r.stdout.String(), "handler SIGTERM"); n != 2 {
		t.Errorf("%d handler runs, want 2 (one per instance)\nstdout:\n%s", n, r.stdout)
	}
	if strings.Contains(r.stderr.String(), "starting it again") {
		t.Errorf("an instance was replaced while the app stopped:\n%s", r.stderr)
	}
	e.noLeaks()
}
