package integration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/cni"
	"github.com/wasmrun/wasmrun/internal/guests"
)

// Rootless `wasmrun os`: run as a user without root. CI runs as root, so
// the commands run as nobody (uid 65534) with the binary and apps copied
// into directories nobody can read; run by a non-root user, they run as
// that user. State goes to the default place of a user without root,
// $XDG_RUNTIME_DIR/wasmrun (a private XDG_RUNTIME_DIR per test).

const nobodyID = 65534

// rootlessModeLine is what --verbose prints for the mode.
const rootlessModeLine = "network mode: rootless (user + network namespace, userspace forwarder)"

// rlEnv is one rootless test's world.
type rlEnv struct {
	t     *testing.T
	dir   string // readable by the user
	bin   string // the user's copy of wasmrun
	xdg   string // XDG_RUNTIME_DIR
	state string // xdg/wasmrun
	cache string
	cred  *syscall.Credential // nil: run as ourselves
	apps  *int
}

// with returns the env for use in subtest t.
func (e *rlEnv) with(t *testing.T) *rlEnv {
	c := *e
	c.t = t
	return &c
}

// newRootlessEnv skips t when this system gives unprivileged users no user
// namespaces, and otherwise sets up the user's directories.
func newRootlessEnv(t *testing.T) *rlEnv {
	t.Helper()
	if ok, reason := cni.UserNamespacesAllowed(); !ok {
		t.Skipf("skipping: rootless mode needs unprivileged user namespaces: %s", reason)
	}
	dir, err := os.MkdirTemp("", "wasmrun-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	e := &rlEnv{t: t, apps: new(int), dir: dir, bin: filepath.Join(dir, "wasmrun"), xdg: filepath.Join(dir, "xdg"), cache: filepath.Join(dir, "cache")}
	e.state = filepath.Join(e.xdg, "wasmrun")
	t.Cleanup(e.cleanup)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The binary and the container process program next to it.
	for _, name := range []string{"wasmrun", "wasmrun-init"} {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(wasmrun), name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{e.xdg, e.cache} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if os.Geteuid() == 0 {
		e.cred = &syscall.Credential{Uid: nobodyID, Gid: nobodyID}
		for _, d := range []string{e.xdg, e.cache} {
			if err := os.Chown(d, nobodyID, nobodyID); err != nil {
				t.Fatal(err)
			}
		}
	}
	return e
}

// cleanup kills what is left of ours and removes the directories.
func (e *rlEnv) cleanup() {
	for _, pid := range e.processes() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	waitUntil(10*time.Second, 20*time.Millisecond, func() bool { return len(e.processes()) == 0 })
	os.RemoveAll(e.dir)
}

// app makes an app directory with netapp as app.wasm and the given
// [network] keys.
func (e *rlEnv) app(network string) string {
	e.t.Helper()
	*e.apps++
	dir := filepath.Join(e.dir, fmt.Sprintf("app%d", *e.apps))
	if err := os.Mkdir(dir, 0o755); err != nil {
		e.t.Fatal(err)
	}
	b, err := os.ReadFile(guests.Go(e.t, "netapp"))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.wasm"), b, 0o644); err != nil {
		e.t.Fatal(err)
	}
	writeFile(e.t, filepath.Join(dir, ".wasmrun.toml"), "[network]\n"+network)
	return dir
}

// command is the user's wasmrun ARGS with the env's directories; extra
// environment entries come last (and win).
func (e *rlEnv) command(ctx context.Context, extraEnv []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, e.bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WASMRUN_") && !strings.HasPrefix(kv, "XDG_RUNTIME_DIR=") && !strings.HasPrefix(kv, "HOME=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "HOME="+e.dir, "XDG_RUNTIME_DIR="+e.xdg, "WASMRUN_CACHE_DIR="+e.cache)
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Dir = e.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: e.cred}
	return cmd
}

// run runs wasmrun ARGS as the user to completion.
func (e *rlEnv) run(extraEnv []string, args ...string) result {
	e.t.Helper()
	r := runCommand(e.t, osTimeout, args, func(ctx context.Context) *exec.Cmd { return e.command(ctx, extraEnv, args...) })
	skipIfRefused(e.t, r)
	return r
}

// skipIfRefused skips t when the kernel refused the user namespace
// although the sysctls allow it (a seccomp or LSM policy, e.g. in a
// container): wasmrun then says so, and rootless mode cannot be tested.
func skipIfRefused(t *testing.T, r result) {
	if r.code == ExitFailure && strings.Contains(r.stderr, "creating a user namespace failed") {
		t.Skipf("skipping: the kernel refuses unprivileged user namespaces here: %s", strings.TrimSpace(r.stderr))
	}
}

// start starts `wasmrun os ARGS...` as the user in the background.
func (e *rlEnv) start(args ...string) *osRun {
	e.t.Helper()
	return startOSRun(e.t, e.command(context.Background(), nil, append([]string{"os"}, args...)...), args)
}

// processes returns the pids of the env's wasmrun processes: the CLI's
// (e.bin) and the container processes (wasmrun-init next to it).
func (e *rlEnv) processes() []int {
	return append(liveProcesses(e.bin, nil), liveProcesses(filepath.Join(e.dir, "wasmrun-init"), nil)...)
}

// leaks lists what of the env is left: processes, state entries, and
// host ports that are still bound.
func (e *rlEnv) leaks(ports ...int) []string {
	var out []string
	for _, pid := range e.processes() {
		out = append(out, fmt.Sprintf("process %d", pid))
	}
	for _, sub := range []string{"containers", "bundles"} {
		ents, _ := os.ReadDir(filepath.Join(e.state, sub))
		for _, ent := range ents {
			out = append(out, "state "+filepath.Join(sub, ent.Name()))
		}
	}
	for _, p := range ports {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			out = append(out, fmt.Sprintf("host port %d: %v", p, err))
			continue
		}
		l.Close()
	}
	return out
}

func (e *rlEnv) noLeaks(ports ...int) {
	e.t.Helper()
	if l := e.leaks(ports...); len(l) > 0 {
		e.t.Errorf("left behind:\n  %s", strings.Join(l, "\n  "))
	}
}

// statePid reads the container pid and namespace of app name.
func (e *rlEnv) statePid(name string) (int, string) {
	e.t.Helper()
	st := readContainerState(e.t, e.state, name)
	return st.Pid, st.Net.Path
}

// TestOSRootless: without root, an app runs in its own user + network
// namespace; --forward goes through the userspace forwarder; --verbose,
// ps and state say which mode is in use; stop, exit and kill -9 leave
// nothing; where user namespaces are not allowed, wasmrun refuses clearly.
func TestOSRootless(t *testing.T) {
	t.Parallel()
	e := newRootlessEnv(t)
	dir := e.app("")

	// Exit codes pass through, and the isolated guest's 127.0.0.1 is its
	// own: a server on the host's loopback is out of reach.
	t.Run("HostLoopbackUnreachable", func(t *testing.T) {
		e := e.with(t)
		srv := newHostListener(t)
		addr := srv.addr
		r := e.run(nil, "os", "-v", dir, "--", "dial", addr)
		mustExit(t, r, 3)
		if r.stdout != "refused\n" {
			t.Errorf("isolated guest dialing the host's %s: stdout %q, want %q", addr, r.stdout, "refused\n")
		}
		if !strings.Contains(r.stderr, rootlessModeLine) {
			t.Errorf("--verbose does not say %q:\n%s", rootlessModeLine, r.stderr)
		}
		srv.notReached(t)

		// isolation = false is the explicit way to share the host network.
		shared := e.app("isolation = false\n")
		r = e.run(nil, "os", shared, "--", "dial", addr)
		mustExit(t, r, 0)
		if r.stdout != "connected\n" {
			t.Errorf("guest on the host network dialing %s: stdout %q, want %q", addr, r.stdout, "connected\n")
		}
		srv.reached(t)
		e.noLeaks()
	})

	// Outbound works without root too: the user's wasmrun makes the host
	// sockets. The outside host's server is reached; the host's own end of
	// the veth (an address of the host) is not.
	t.Run("Outbound", func(t *testing.T) {
		e := e.with(t)
		out := newOutsideHost(t, newOSEnv(t))
		addr := net.JoinHostPort(out.addr, strconv.Itoa(out.port))
		r := e.run(nil, "os", dir, "--", "dial", addr)
		mustExit(t, r, 0)
		if r.stdout != "connected\n" || out.accepted.Load() != 1 {
			t.Errorf("rootless guest dialing the outside %s: stdout %q, %d accepted", addr, r.stdout, out.accepted.Load())
		}
		srv := newHostListenerAll(t)
		_, port, _ := net.SplitHostPort(srv.addr)
		r = e.run(nil, "os", dir, "--", "dial", net.JoinHostPort(out.hostAddr, port))
		if r.code == 0 {
			t.Errorf("rootless guest reached the host's %s:%s: %q", out.hostAddr, port, r.stdout)
		}
		srv.notReached(t)
		e.noLeaks()
	})

	t.Run("Forward", func(t *testing.T) {
		e := e.with(t)
		port := freePort(t, "tcp")
		r := e.start("-v", "--name", "web", "--env", "APP_ID=web", "--forward", fmt.Sprintf("127.0.0.1:%d:3000", port), dir, "--", "serve", ":3000")
		r.waitFor("listening 0.0.0.0:3000")
		if !strings.Contains(r.stderr.String(), rootlessModeLine) {
			t.Errorf("--verbose does not say %q:\n%s", rootlessModeLine, r.stderr)
		}
		for i := 0; i < 2; i++ {
			if got := greeting(t, dialHost(fmt.Sprintf("127.0.0.1:%d", port))); got != "hello web" {
				t.Errorf("through the forward: %q, want %q", got, "hello web")
			}
		}

		pid, netns := e.statePid("web")
		if want := fmt.Sprintf("/proc/%d/ns/net", pid); netns != want {
			t.Errorf("state records namespace %q, want %q", netns, want)
		}
		if nsInode(t, fmt.Sprintf("/proc/%d/ns/net", pid)) == nsInode(t, "/proc/self/ns/net") {
			t.Error("the guest process is in the host's network namespace")
		}
		if nsInode(t, fmt.Sprintf("/proc/%d/ns/user", pid)) == nsInode(t, "/proc/self/ns/user") {
			t.Error("the guest process is in the host's user namespace")
		}
		if e.cred != nil {
			var st syscall.Stat_t
			if err := syscall.Stat(fmt.Sprintf("/proc/%d", pid), &st); err != nil || st.Uid != nobodyID {
				t.Errorf("guest process owner uid %d (%v), want %d", st.Uid, err, nobodyID)
			}
		}

		ps := e.run(nil, "ps")
		mustExit(t, ps, 0)
		ls := lines(ps.stdout)
		want := []string{"web", strconv.Itoa(pid), "running", "1", fmt.Sprintf("rootless:/proc/%d/ns/net", pid),
			fmt.Sprintf("127.0.0.1:%d:3000/tcp", port), filepath.Join(dir, "app.wasm")}
		if len(ls) != 2 || strings.Join(strings.Fields(ls[1]), " ") != strings.Join(want, " ") {
			t.Errorf("wasmrun ps:\n%s\nwant the line %q", ps.stdout, want)
		}

		stop := e.run(nil, "stop", "web")
		mustExit(t, stop, 0)
		if code := r.wait(); code != 143 {
			t.Errorf("exit code %d after wasmrun stop, want 143\nstderr:\n%s", code, r.stderr)
		}
		e.noLeaks(port)
	})

	t.Run("ForwardUDP", func(t *testing.T) {
		e := e.with(t)
		port := freePort(t, "udp")
		r := e.start("--env", "APP_ID=udp", "--forward", fmt.Sprintf("127.0.0.1:%d:5353/udp", port), dir, "--", "udp", ":5353")
		r.waitFor("listening 0.0.0.0:5353")
		if got := udpPing(t, port); got != "udp: ping" {
			t.Errorf("UDP answer %q, want %q", got, "udp: ping")
		}
		r.signal(syscall.SIGTERM)
		if code := r.wait(); code != 143 {
			t.Errorf("exit code %d after SIGTERM, want 143\nstderr:\n%s", code, r.stderr)
		}
		e.noLeaks()
		if l, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
			t.Errorf("host port %d/udp after exit: %v", port, err)
		} else {
			l.Close()
		}
	})

	t.Run("PortTaken", func(t *testing.T) {
		e := e.with(t)
		port := heldPort(t, "tcp")
		r := e.run(nil, "os", "--forward", fmt.Sprintf("127.0.0.1:%d:3000", port), dir, "--", "serve", ":3000")
		mustExit(t, r, ExitFailure)
		if want := fmt.Sprintf("port %d/tcp on the host is already in use", port); !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q does not say %q", r.stderr, want)
		}
		e.noLeaks()
	})

	// kill -9 of wasmrun os: the guest dies with it (its parent-death
	// signal), the forward with the process; the next run removes the
	// state left behind.
	t.Run("Kill9", func(t *testing.T) {
		e := e.with(t)
		port := freePort(t, "tcp")
		r := e.start("--name", "k9", "--forward", fmt.Sprintf("127.0.0.1:%d:3000", port), dir, "--", "serve", ":3000")
		r.waitFor("listening 0.0.0.0:3000")
		pid, _ := e.statePid("k9")
		r.signal(syscall.SIGKILL)
		r.wait()
		// The CLI and the guest process, zombies aside.
		if !waitUntil(osTimeout, 20*time.Millisecond, func() bool { return len(e.processes()) == 0 }) {
			t.Fatalf("guest process %d still runs %v after kill -9 of wasmrun os", pid, osTimeout)
		}
		if _, err := os.Stat(filepath.Join(e.state, "containers", "k9")); err != nil {
			t.Errorf("expected the killed run's state to be left for the next run: %v", err)
		}
		next := e.run(nil, "os", dir, "--", "dial", "127.0.0.1:1")
		mustExit(t, next, 3)
		e.noLeaks(port)
	})

	// Where user namespaces are not allowed: one clear error, exit 125,
	// nothing created, never a run on the host network.
	t.Run("Refused", func(t *testing.T) {
		e := e.with(t)
		os.RemoveAll(e.state)
		r := e.run([]string{"WASMRUN_TEST_DENY_USERNS=user namespaces disabled for the test"}, "os", dir, "--", "dial", "127.0.0.1:1")
		mustExit(t, r, ExitFailure)
		want := "wasmrun: network isolation needs root or unprivileged user namespaces (user namespaces disabled for the test); run as root, or set isolation = false in [network] of .wasmrun.toml to share the host network\n"
		if r.stderr != want {
			t.Errorf("stderr %q, want %q", r.stderr, want)
		}
		if r.stdout != "" {
			t.Errorf("the guest ran: stdout %q", r.stdout)
		}
		if _, err := os.Stat(e.state); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("state dir %s exists after the refusal: %v", e.state, err)
		}
		e.noLeaks()
	})
}
