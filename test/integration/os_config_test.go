package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// TestOSConfigErrors: bad .wasmrun.toml contents and app directories fail
// with exit 125 and one line that names the problem.
func TestOSConfigErrors(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	idle, argsEnv := guests.C(t, "idle"), guests.C(t, "args_env_exit")
	one := map[string]string{"app.wasm": idle}
	for _, tc := range []struct {
		name    string
		modules map[string]string
		top     string
		network string
		flags   []string
		want    []string
	}{
		{"unknown top key", one, `colour = "red"`, "", nil, []string{"unknown key colour"}},
		{"unknown network key", one, "", "bogus = true\n", nil, []string{"unknown key network.bogus"}},
		{"bad forward", one, "", `forward = ["80:http"]` + "\n", nil, []string{"network.forward", `"http"`}},
		{"bad forward flag", one, "", "", []string{"--forward", "99999:80"}, []string{"99999"}},
		{"bad subnet", one, "", `subnet = "10.0.0.1/8"` + "\n", nil, []string{"network.subnet"}},
		{"bad bridge name", one, "", `bridge_name = "a-bridge-name-too-long"` + "\n", nil, []string{"network.bridge_name"}},
		{"forward without isolation", one, "", "isolation = false\n", []string{"--forward", "8080:80"}, []string{"isolation = false"}},
		{"two modules", map[string]string{"a.wasm": idle, "b.wasm": argsEnv}, "", "", nil, []string{"a.wasm", "b.wasm", "module ="}},
		{"no module", map[string]string{"README": idle}, "", "", nil, []string{"no .wasm module found"}},
		{"missing module", one, `module = "x.wasm"`, "", nil, []string{"x.wasm"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			dir := e.app(tc.modules, tc.top, tc.network)
			r := e.run(append(append([]string{"os"}, tc.flags...), dir)...)
			mustExit(t, r, ExitFailure)
			ls := lines(r.stderr)
			if len(ls) != 1 {
				t.Errorf("stderr has %d lines, want 1:\n%s", len(ls), r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q does not contain %q", r.stderr, w)
				}
			}
		})
	}
	e.noLeaks()
}

// TestOSConfigKeys: module selection, args (before the command line's),
// env and dirs from .wasmrun.toml reach the guest.
func TestOSConfigKeys(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	data := t.TempDir()
	writeFile(t, filepath.Join(data, "greeting.txt"), "hello from a preopen\n")

	t.Run("module args env", func(t *testing.T) {
		e := e.with(t)
		dir := e.app(map[string]string{"a.wasm": guests.C(t, "idle"), "b.wasm": guests.C(t, "args_env_exit")},
			`module = "b.wasm"
args = ["5", "two words"]
[env]
GREETING = "hi there"`, "")
		r := e.run("os", "--env", "EXTRA=1", dir, "--", "last")
		mustExit(t, r, 5)
		for _, want := range []string{"argc 4", "arg 0 [/b.wasm]", "arg 1 [5]", "arg 2 [two words]", "arg 3 [last]",
			"env [EXTRA=1]", "env [GREETING=hi there]", "lookup GREETING [hi there]"} {
			if !strings.Contains(r.stdout, want+"\n") {
				t.Errorf("stdout has no line %q:\n%s", want, r.stdout)
			}
		}
	})
	t.Run("dirs", func(t *testing.T) {
		e := e.with(t)
		dir := e.app(map[string]string{"app.wasm": guests.Go(t, "netapp")}, fmt.Sprintf("dirs = [%q]", data+":/data"), "")
		r := e.run("os", dir, "--", "cat", "/data/greeting.txt")
		mustExit(t, r, 0)
		if r.stdout != "hello from a preopen\n" {
			t.Errorf("stdout %q, want the file's contents", r.stdout)
		}
	})
	e.noLeaks()
}

// TestOSNoIsolation: with isolation = false the guest shares the host
// network: its listener on 127.0.0.1:PORT answers the host directly, and
// no namespace is made.
func TestOSNoIsolation(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	dir := e.app(map[string]string{"app.wasm": guests.Go(t, "netapp")}, "", "isolation = false\n")
	port := freePort(t, "tcp")
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	r := e.start("--verbose", "--name", "shared", "--env", "APP_ID=shared", dir, "--", "serve", addr)
	r.waitFor("listening " + addr)
	if got := greeting(t, dialHost(addr)); got != "hello shared" {
		t.Errorf("%s: got %q, want %q", addr, got, "hello shared")
	}
	if st := e.containerState("shared"); st.Net.Path != "" || st.Net.Mode != "host" {
		t.Errorf("state records network %+v, want the host's", st.Net)
	}
	if fileExists(e.netns("shared")) {
		t.Errorf("%s exists with isolation = false", e.netns("shared"))
	}
	if st := e.containerState("shared"); inode(t, fmt.Sprintf("/proc/%d/ns/net", st.Pid)) != inode(t, "/proc/self/ns/net") {
		t.Errorf("guest process %d is not in the host's network namespace", st.Pid)
	}
	r.signal(syscall.SIGTERM)
	if code := r.wait(); code != 143 {
		t.Errorf("exit code %d after SIGTERM, want 143", code)
	}
	e.noLeaks()
	if _, err := os.Stat(filepath.Join(e.state, "containers", "shared")); err == nil {
		t.Errorf("state of app shared left behind")
	}
}

// TestOSNetworkRefused: a subnet that is not a private range, and a
// bridge_name of a bridge wasmrun did not create (a stand-in for docker0),
// are refused with exit 125 and one line; the foreign bridge keeps its
// address, and nothing is left.
func TestOSNetworkRefused(t *testing.T) {
	t.Parallel()
	requireCNI(t)
	e := newOSEnv(t)
	idle := guests.C(t, "idle")
	foreign := e.prefix + "fx"
	if out, err := exec.Command("ip", "link", "add", foreign, "type", "bridge").CombinedOutput(); err != nil {
		t.Fatalf("ip link add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", foreign).Run() })
	if out, err := exec.Command("ip", "addr", "add", "192.168.252.1/24", "dev", foreign).CombinedOutput(); err != nil {
		t.Fatalf("ip addr add: %v: %s", err, out)
	}
	port := freePort(t, "tcp")
	for _, tc := range []struct{ name, network, want string }{
		{"loopback subnet", `subnet = "127.0.0.0/8"`, "must be a private range"},
		{"link-local subnet", `subnet = "169.254.0.0/16"`, "must be a private range"},
		{"public subnet", `subnet = "8.8.8.0/24"`, "must be a private range"},
		{"foreign bridge", fmt.Sprintf("bridge_name = %q", foreign), "not created by wasmrun"},
		{"subnet of a host network", `subnet = "192.168.252.0/24"`, "overlaps the host's network 192.168.252.0/24"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := e.app(map[string]string{"app.wasm": idle}, "", "")
			cfg := fmt.Sprintf("[network]\nnamespace_prefix = %q\nforward = [\"%d:80\"]\n%s\n", e.prefix, port, tc.network)
			if !strings.Contains(tc.network, "bridge_name") {
				cfg += fmt.Sprintf("bridge_name = %q\n", e.bridge)
			}
			writeFile(t, filepath.Join(dir, ".wasmrun.toml"), cfg)
			r := e.run("os", "--name", "refused", dir)
			mustExit(t, r, ExitFailure)
			if ls := lines(r.stderr); len(ls) != 1 || !strings.Contains(ls[0], tc.want) {
				t.Errorf("stderr %q, want one line with %q", r.stderr, tc.want)
			}
		})
	}
	out, err := exec.Command("ip", "-o", "addr", "show", "dev", foreign).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "192.168.252.1/24") {
		t.Errorf("foreign bridge %s lost its address: %v: %s", foreign, err, out)
	}
	e.noLeaks(port)
}
