package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// Crash consistency: a kill -9 of `wasmrun os` (or of `wasmrun stop`, or of
// the container process) at any instant leaves nothing that the next run
// does not remove, and never blocks a name. Each kill lands after a random
// delay spread over the window the step takes on this machine (measured
// first, by a run that is not killed); then the container process must be
// gone, `wasmrun ps` must still work, the next run with the same name (and
// the same forward) must succeed, and after it nothing of the env may be
// left: namespaces, veths and bridge, rules, leases, cgroups, mounts,
// state, bundles, the apps' /tmp, processes (osEnv.leaks).

// crashTest is one subtest of TestOSCrash: an env, its random delays, and
// where its kills landed.
type crashTest struct {
	*osEnv
	rng    *rand.Rand
	phases map[string]int
	failed int
}

// newCrashTest makes the env of one subtest, its apps' /tmp private.
func newCrashTest(t *testing.T, seed uint64) *crashTest {
	e := newOSEnv(t)
	e.privateTmp()
	t.Logf("seed %d", seed)
	c := &crashTest{osEnv: e, rng: rand.New(rand.NewPCG(seed, 0)), phases: map[string]int{}}
	t.Cleanup(func() { t.Logf("kills landed in: %v", c.phases) })
	return c
}

// crashApp is an app of a crash test and how it is started.
type crashApp struct {
	kind string
	dir  string
	args []string // flags before the app (--forward, --memory)
	port int      // its forward's host port, 0 for none
}

// apps returns the three kinds of app the crash tests kill: a namespace
// with lo only, the same with a memory limit (a cgroup), and one on the
// bridge with a forward (veth, lease, DNAT and masquerade rules).
func (c *crashTest) apps() []crashApp {
	idle := guests.C(c.t, "idle")
	port := freePort(c.t, "tcp")
	return []crashApp{
		{kind: "lo", dir: c.app1(idle)},
		{kind: "cgroup", dir: c.app1(idle), args: []string{"--memory", "256M"}},
		{kind: "bridge", dir: c.app(map[string]string{"app.wasm": idle}, "", "bridge = true\n"),
			args: []string{"--forward", fmt.Sprintf("%d:80", port)}, port: port},
	}
}

// osArgs are the arguments of `wasmrun os` running app a as name with the
// guest's argument (its sleep).
func (a crashApp) osArgs(name, sleep string) []string {
	args := append([]string{"--verbose", "--name", name}, a.args...)
	return append(args, a.dir, "--", sleep)
}

// delay is a random duration in [0, window).
func (c *crashTest) delay(window time.Duration) time.Duration {
	return time.Duration(c.rng.Int64N(int64(window) + 1))
}

// window is how long step takes, the shortest of three runs of it: the
// random delays of the kills are spread over it (and a tenth beyond, where
// the kill may come too late and the step's end is checked).
func window(t *testing.T, what string, step func() time.Duration) time.Duration {
	t.Helper()
	d := step()
	for range 2 {
		d = min(d, step())
	}
	t.Logf("%s takes %v", what, d.Round(time.Millisecond))
	return d + d/10
}

// createWindow is the window of app a's create and start: from the start
// of `wasmrun os` until the app runs.
func (c *crashTest) createWindow(a crashApp) time.Duration {
	c.t.Helper()
	return window(c.t, a.kind+" create and start", func() time.Duration {
		start := time.Now()
		r := c.start(a.osArgs("cal", "60s")...)
		r.waitFor("running as pid")
		d := time.Since(start)
		r.signal(syscall.SIGTERM)
		r.wait()
		return d
	})
}

// kill sends SIGKILL to the process of r (if it still runs) and returns
// its exit code.
func kill(r *osRun) int {
	r.t.Helper()
	r.cmd.Process.Signal(syscall.SIGKILL) // an error is a process that is done
	return r.wait()
}

// phase tells from the --verbose output of a killed `wasmrun os` (and its
// exit code) which step the kill interrupted.
func phase(stderr string, code int) string {
	if code != 137 {
		return "after exit"
	}
	for _, p := range []struct{ marker, phase string }{
		{": deleted", "delete (state)"},
		{"deleted namespace", "delete (state)"},
		{"CNI DEL", "delete (network)"},
		{"exited with status", "delete (network)"},
		{"got terminated", "stop"},
		{"running as pid", "running"},
		{": started", "start"},
		{": process ", "create (container process)"},
		{"network mode:", "create (container process)"},
		{"created namespace", "create (network)"},
	} {
		if strings.Contains(stderr, p.marker) {
			return p.phase
		}
	}
	return "create (before the network)"
}

// containerProcess returns the pid of the container process that the
// wasmrun process parent started, or 0: a child that runs a wasmrun binary
// and has its own command line (not a fork of parent that has not run
// its binary yet, or Go's short-lived pidfd probe).
func containerProcess(parent int) int {
	parentCmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", parent))
	if err != nil {
		return 0
	}
	for _, pid := range liveProcesses("", func(proc string) bool {
		exe, err := os.Readlink(proc + "/exe")
		if err != nil || !strings.HasPrefix(filepath.Base(exe), "wasmrun") {
			return false
		}
		b, _ := os.ReadFile(proc + "/stat")
		i := strings.LastIndexByte(string(b), ')')
		f := strings.Fields(string(b[i+1:])) // state, ppid, ...
		if i < 0 || len(f) < 2 || f[1] != strconv.Itoa(parent) {
			return false
		}
		cmdline, err := os.ReadFile(proc + "/cmdline")
		return err == nil && len(cmdline) > 0 && !bytes.Equal(cmdline, parentCmdline)
	}) {
		return pid
	}
	return 0
}

// wasmrunProcesses returns the env's processes that run a wasmrun binary
// (CLIs and container processes).
func (c *crashTest) wasmrunProcesses() []int {
	var out []int
	for _, pid := range c.processes() {
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && strings.HasPrefix(filepath.Base(exe), "wasmrun") {
			out = append(out, pid)
		}
	}
	return out
}

// check is how every iteration of app a as name ends (what names the
// iteration in messages): the container process dies with its killed
// creator; `wasmrun ps` lists the app (if at all) as stopped; the next run
// with the same name and forward succeeds; nothing is left after it. It
// reports whether the subtest should go on (it stops after three
// failures, each followed by a cleanup).
func (c *crashTest) check(what, name string, a crashApp) bool {
	t := c.t
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s: "+format, append([]any{what}, args...)...)
		c.failed++
		c.cleanup() // so that the next iterations start clean
	}
	// The container process dies with its creator (its parent death
	// signal), though its exit may take a moment (much memory to free,
	// when the /proc files the leak check reads are gone already).
	var st containerState
	if b, err := os.ReadFile(filepath.Join(c.state, "containers", name, "state.json")); err == nil && json.Unmarshal(b, &st) == nil && st.Pid > 0 {
		waitExit(t, st.Pid)
	}
	if !waitUntil(10*time.Second, 10*time.Millisecond, func() bool { return len(c.wasmrunProcesses()) == 0 }) {
		fail("wasmrun processes outlive the kill: %v", c.wasmrunProcesses())
		return c.failed < 3
	}
	ps := c.run("ps")
	if ps.code != 0 {
		fail("wasmrun ps: exit %d: %s", ps.code, ps.stderr)
		return c.failed < 3
	}
	for _, l := range lines(ps.stdout)[1:] {
		if f := strings.Fields(l); len(f) < 3 || f[0] != name || f[2] != "stopped" {
			fail("wasmrun ps lists %q; want at most %s, stopped", l, name)
			return c.failed < 3
		}
	}
	next := c.run(append([]string{"os"}, a.osArgs(name, "0ms")...)...)
	if next.code != 0 || next.stdout != "done\n" {
		fail("the next run of %s: exit %d, stdout %q\nstderr:\n%s", name, next.code, next.stdout, next.stderr)
		return c.failed < 3
	}
	if l := c.leaks(a.port); len(l) > 0 {
		fail("left after the next run of %s:\n  %s", name, strings.Join(l, "\n  "))
	}
	return c.failed < 3
}

// TestOSCrash: kill -9 at random instants of create, start, stop and
// delete, of `wasmrun stop`, and of the container process itself (see the
// comment at the top of this file). Its subtests run in parallel, about 40
// kills in all, each followed by a run of the same name.
func TestOSCrash(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	requireCNI(t)
	seed := rand.Uint64()

	// kill -9 of `wasmrun os` at any instant of a run: while it creates
	// and starts the app, anywhere in a whole run (create, start, the
	// guest's exit, delete), and while it stops it (SIGTERM: the guest
	// ends, the run tears down).
	t.Run("os", func(t *testing.T) {
		t.Parallel()
		c := newCrashTest(t, seed)
		apps := c.apps()
		creates, runs, terms := map[string]time.Duration{}, map[string]time.Duration{}, map[string]time.Duration{}
		for _, a := range apps {
			creates[a.kind] = c.createWindow(a)
			runs[a.kind] = window(t, a.kind+" run", func() time.Duration {
				r := c.run(append([]string{"os"}, a.osArgs("cal", "0ms")...)...)
				mustExit(t, r, 0)
				return r.wall
			})
			terms[a.kind] = window(t, a.kind+" stop (SIGTERM to exit)", func() time.Duration {
				r := c.start(a.osArgs("cal", "60s")...)
				r.waitFor("running as pid")
				start := time.Now()
				r.signal(syscall.SIGTERM)
				if code := r.wait(); code != 143 {
					t.Fatalf("exit %d after SIGTERM, want 143\nstderr:\n%s", code, r.stderr)
				}
				return time.Since(start)
			})
		}
		c.noLeaks(apps[2].port)
		for i := range 24 {
			a := apps[i%len(apps)]
			name := fmt.Sprint("k", i)
			var what string
			switch i % 4 {
			case 0, 1, 2:
				windows, sleep := creates, "60s"
				if i%4 == 2 {
					windows, sleep = runs, "0ms"
				}
				d := c.delay(windows[a.kind])
				r := c.start(a.osArgs(name, sleep)...)
				time.Sleep(d)
				code := kill(r)
				p := phase(r.stderr.String(), code)
				c.phases[p]++
				what = fmt.Sprintf("iteration %d (%s app, killed after %v, in %s)", i, a.kind, d, p)
			case 3:
				r := c.start(a.osArgs(name, "60s")...)
				r.waitFor("running as pid")
				d := c.delay(terms[a.kind])
				r.signal(syscall.SIGTERM)
				time.Sleep(d)
				code := kill(r)
				p := phase(r.stderr.String(), code)
				if code == 137 && p == "running" {
					p = "stop"
				}
				c.phases[p]++
				what = fmt.Sprintf("iteration %d (%s app, killed %v after SIGTERM, in %s)", i, a.kind, d, p)
			}
			if !c.check(what, name, a) {
				return
			}
		}
	})

	// SIGTERM (not a kill) at random instants of create: `wasmrun os`
	// stops the app at any moment, exits 143 and has removed everything
	// itself before it exits: no next run needed to clean up. (Before the
	// bundle and the app's /tmp mount, a SIGTERM's default action ended
	// the process and left both.)
	t.Run("sigterm", func(t *testing.T) {
		t.Parallel()
		c := newCrashTest(t, seed+2)
		apps := c.apps()
		creates := map[string]time.Duration{}
		for _, a := range apps {
			creates[a.kind] = c.createWindow(a)
		}
		for i := range 12 {
			a := apps[i%len(apps)]
			name := fmt.Sprint("t", i)
			d := c.delay(creates[a.kind])
			r := c.start(a.osArgs(name, "60s")...)
			time.Sleep(d)
			r.signal(syscall.SIGTERM)
			what := fmt.Sprintf("iteration %d (%s app, SIGTERM after %v)", i, a.kind, d)
			if code := r.wait(); code != 143 {
				t.Errorf("%s: exit %d, want 143\nstderr:\n%s", what, code, r.stderr)
			}
			if l := c.leaks(a.port); len(l) > 0 {
				t.Errorf("%s: left behind:\n  %s", what, strings.Join(l, "\n  "))
				c.cleanup()
			}
			if !c.check(what, name, a) {
				return
			}
		}
	})

	// kill -9 of `wasmrun stop`: of a live app's (whose `wasmrun os`
	// then still stops it, or a second `wasmrun stop` does), and of a
	// crashed app's, which stop tears down itself.
	t.Run("stop", func(t *testing.T) {
		t.Parallel()
		c := newCrashTest(t, seed+1)
		apps := c.apps()
		stop := func(name string) *osRun {
			args := []string{"stop", name}
			return startOSRun(t, c.command(context.Background(), args...), args)
		}
		// crash starts app a as name and kills its `wasmrun os` once it
		// runs, and waits for its container process to die.
		crash := func(a crashApp, name string) {
			r := c.start(a.osArgs(name, "60s")...)
			r.waitFor("running as pid")
			pid := c.containerState(name).Pid
			kill(r)
			waitExit(t, pid)
		}
		live := map[string]time.Duration{}
		crashed := map[string]time.Duration{}
		for _, a := range []crashApp{apps[0], apps[2]} {
			live[a.kind] = window(t, "wasmrun stop of a live "+a.kind+" app", func() time.Duration {
				r := c.start(a.osArgs("cal", "60s")...)
				r.waitFor("running as pid")
				start := time.Now()
				mustExit(t, c.run("stop", "cal"), 0)
				r.wait()
				return time.Since(start)
			})
			crashed[a.kind] = window(t, "wasmrun stop of a crashed "+a.kind+" app", func() time.Duration {
				crash(a, "cal")
				start := time.Now()
				mustExit(t, c.run("stop", "cal"), 0)
				return time.Since(start)
			})
		}
		c.noLeaks(apps[2].port)
		for i := range 8 {
			a := apps[2*(i/2%2)] // lo, lo, bridge, bridge, ...
			name := fmt.Sprint("s", i)
			var what string
			if i%2 == 0 {
				r := c.start(a.osArgs(name, "60s")...)
				r.waitFor("running as pid")
				d := c.delay(live[a.kind])
				s := stop(name)
				time.Sleep(d)
				kill(s)
				// The app is stopped (the killed stop's SIGTERM came
				// through) or still runs: a second stop finishes it.
				again := c.run("stop", name)
				if again.code != 0 && !strings.Contains(again.stderr, "not found") {
					t.Errorf("iteration %d: the second wasmrun stop: exit %d: %s", i, again.code, again.stderr)
				}
				if code := r.wait(); code != 143 && code != 137 {
					t.Errorf("iteration %d: wasmrun os exit %d after the stops, want 143\nstderr:\n%s", i, code, r.stderr)
				}
				c.phases["stop of a live app"]++
				what = fmt.Sprintf("iteration %d (wasmrun stop of a live %s app killed after %v)", i, a.kind, d)
				if l := c.leaks(a.port); len(l) > 0 {
					t.Errorf("%s: wasmrun os left:\n  %s", what, strings.Join(l, "\n  "))
				}
			} else {
				crash(a, name)
				d := c.delay(crashed[a.kind])
				s := stop(name)
				time.Sleep(d)
				code := kill(s)
				c.phases[fmt.Sprintf("stop of a crashed app (exit %d)", code)]++
				what = fmt.Sprintf("iteration %d (wasmrun stop of a crashed %s app killed after %v)", i, a.kind, d)
			}
			if !c.check(what, name, a) {
				return
			}
		}
	})

	// kill -9 of the container process, while it is created or runs: its
	// `wasmrun os` ends and removes everything itself.
	t.Run("container", func(t *testing.T) {
		t.Parallel()
		c := newCrashTest(t, seed+2)
		apps := c.apps()
		windows := map[string]time.Duration{}
		for _, a := range apps {
			windows[a.kind] = c.createWindow(a)
		}
		c.noLeaks(apps[2].port)
		for i := range 8 {
			a := apps[i%len(apps)]
			name := fmt.Sprint("c", i)
			// Over twice the window: about half of the kills come
			// while the app runs.
			d := c.delay(2 * windows[a.kind])
			r := c.start(a.osArgs(name, "60s")...)
			time.Sleep(d)
			pid := 0
			waitUntil(osTimeout, time.Millisecond, func() bool {
				pid = containerProcess(r.cmd.Process.Pid)
				select {
				case <-r.done:
					return true
				default:
					return pid != 0
				}
			})
			if pid == 0 {
				t.Fatalf("iteration %d: no container process; wasmrun os exited with %d\nstderr:\n%s", i, r.wait(), r.stderr)
			}
			syscall.Kill(pid, syscall.SIGKILL)
			code := r.wait()
			stderr := r.stderr.String()
			running := strings.Contains(stderr, "running as pid")
			p := "create"
			switch {
			case running:
				p = "running"
			case strings.Contains(stderr, ": process "):
				p = "created"
			}
			c.phases[p]++
			what := fmt.Sprintf("iteration %d (%s app, container process killed after %v, in %s)", i, a.kind, d, p)
			if code == 0 || (running && code != 137) {
				t.Errorf("%s: wasmrun os exit %d, want 137 (running) or a failure (created)\nstderr:\n%s", what, code, r.stderr)
			}
			// Its `wasmrun os` lived: it removed everything.
			if l := c.leaks(a.port); len(l) > 0 {
				t.Errorf("%s: wasmrun os left:\n  %s", what, strings.Join(l, "\n  "))
				c.cleanup()
			}
			if !c.check(what, name, a) {
				return
			}
		}
	})
}
