package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/guests"
	"github.com/wasmrun/wasmrun/internal/testdaemon"
)

// Crash consistency of the shim front end: a SIGKILL of the shim (its
// start action, its server, its delete action) or of the task's container
// process at any instant of create, start, kill and delete leaves nothing
// once containerd has done what it does after a crash (it runs the shim
// binary's delete action for a dead shim; when that dies too, it runs it
// again when it restarts) and a user has removed the task and the
// container (ctr task rm -f, ctr container rm). Most kills land after a
// random delay spread over the window the step takes on this machine
// (measured first, by runs that are not killed), two at chosen points
// (startAtSocket, shimAtTeardown). After each, nothing of
// the container may be left (shimCrash.leaks: namespaces, netns state,
// veths, bridge, rules, leases, cgroups, mounts, processes, the bundle
// with the shim's state and the oci state dir, the shim's socket), and the
// same id must then run normally and leave nothing either.

// TestShimCrash runs 24 kills per containerd release (crashOps: the shim
// in ctr run -d, ctr run --rm and ctr task rm -f; the start action; the
// delete action; the container process while created and running), on
// three kinds of container: a --rootfs one in its own network namespace,
// an image whose rootfs arrives as mounts, and one on a CNI bridge (veth,
// lease, masquerade rules), all with a private namespace prefix, netns
// state dir, bridge and subnet. 25-45 s per release on an idle machine;
// the seed is logged.
func TestShimCrash(t *testing.T) {
	needRootShim(t)
	idle := guests.C(t, "idle")
	seed := rand.Uint64()
	for _, v := range shimDaemons {
		t.Run(v.name, func(t *testing.T) {
			start := time.Now()
			c := newShimCrash(t, v.bin(t), idle, seed)
			c.measure()
			for i := range crashIterations {
				if !c.iteration(i) {
					break
				}
			}
			t.Logf("%d iterations in %v; kills landed in: %v", crashIterations, time.Since(start).Round(100*time.Millisecond), c.phases)
		})
	}
}

// crashIterations is the number of kills per daemon.
const crashIterations = 24

// crashOp is what an iteration does and what it kills when.
type crashOp int

const (
	shimInCreate crashOp = iota // the shim, during `ctr run -d` (create, start)
	shimInRun                   // the shim, during `ctr run --rm` of a short run (create, start, exit, delete)
	shimInStop                  // the shim, during `ctr task rm -f` (kill, wait, delete)
	initInCreate                // the container process, during `ctr run -d`
	initRunning                 // the container process of a running task
	// the shim of a running task, then the delete action containerd runs
	// for it (and containerd restarted: it runs it again)
	deleteAction
	// Two kill points chosen rather than drawn, where the shim's own state
	// changes: the start action once it has bound the shim's socket, and
	// the shim as its delete removes the task's namespace (what follows:
	// the bridge, cgroup, rootfs mount, state).
	startAtSocket
	shimAtTeardown
)

// crashOps is the order of the iterations' ops: eight, so that with three
// kinds every op meets every kind in 24 iterations.
var crashOps = []crashOp{shimInCreate, shimInRun, shimInStop, initInCreate, startAtSocket, deleteAction, shimAtTeardown, initRunning}

func (op crashOp) String() string {
	return [...]string{"shim killed in ctr run -d", "shim killed in ctr run --rm", "shim killed in ctr task rm -f",
		"container process killed in ctr run -d", "container process of a running task killed",
		"shim killed, then its delete action", "start action killed once the socket is bound",
		"shim killed as ctr task rm -f removes the namespace"}[op]
}

// crashKind is a kind of container: how ctr runs it.
type crashKind struct {
	name   string
	target []string // --rootfs DIR, or an image ref
	config string   // the shim config (--runtime-config-path)
	bridge bool
}

// shimCrash is the crash test of one daemon.
type shimCrash struct {
	t       *testing.T
	d       *testdaemon.Daemon
	rng     *rand.Rand
	kinds   []crashKind
	prefix  string // the shim configs' namespace prefix
	state   string // and their netns state dir
	bridge  string // the bridge kind's bridge device and CNI network
	windows map[string]time.Duration
	phases  map[string]int
	failed  int
	// logStart is the size of the daemon's log when the iteration began.
	logStart int64
}

// newShimCrash starts a daemon and makes the kinds of container: private
// namespace prefix, netns state dir, bridge, CNI network and subnet,
// and image. The bridge goes at the end, after the daemon's cleanup.
func newShimCrash(t *testing.T, bin testdaemon.Binaries, idle string, seed uint64) *shimCrash {
	t.Logf("seed %d", seed)
	dir := t.TempDir()
	n := os.Getpid()%200 + 20
	c := &shimCrash{
		t: t, rng: rand.New(rand.NewPCG(seed, uint64(bin.ConfigVersion))),
		prefix: fmt.Sprintf("wsc%d", os.Getpid()), state: filepath.Join(dir, "netns-state"),
		bridge:  fmt.Sprintf("wsc%d", os.Getpid()),
		windows: map[string]time.Duration{}, phases: map[string]int{},
	}
	t.Cleanup(func() {
		delBridge(c.bridge)
		os.RemoveAll(c.ipamDir())
		os.Remove(c.bridgeMarker())
	})
	d := startShimDaemon(t, bin)
	c.d = d
	network := fmt.Sprintf("[network]\nprefix = %q\nstate_dir = %q\n", c.prefix, c.state)
	plain := filepath.Join(dir, "shim.toml")
	writeFile(t, plain, network)
	bridged := filepath.Join(dir, "shim-bridge.toml")
	writeFile(t, bridged, network+fmt.Sprintf("bridge = true\nbridge_name = %q\nnetwork_name = %q\nsubnet = \"10.236.%d.0/24\"\n", c.bridge, c.bridge, n))
	ref := fmt.Sprintf("docker.io/wasmrun/crash-idle:%d", os.Getpid())
	d.MustCtr(t, "images", "import", ociImage(t, ref, idle, nil, nil))
	c.kinds = []crashKind{
		{name: "netns", target: []string{"--rootfs", rootfsWith(t, idle)}, config: plain},
		{name: "image", target: []string{ref}, config: plain},
		{name: "bridge", target: []string{"--rootfs", rootfsWith(t, idle)}, config: bridged, bridge: true},
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		if _, err2 := os.Stat("/opt/cni/bin/bridge"); err2 != nil {
			t.Log("CNI bridge plugin missing (containernetworking-plugins): no bridge containers")
			c.kinds = c.kinds[:2]
		}
	}
	return c
}

// runArgs are the arguments of `ctr run` of kind k as id, detached or
// removed at its end, the guest sleeping for sleep.
func (k crashKind) runArgs(detach bool, id, sleep string) []string {
	args := []string{"run", "--rm"}
	if detach {
		args = []string{"run", "-d"}
	}
	args = append(args, "--runtime", shimRuntime, "--runtime-config-path", k.config)
	args = append(args, k.target...)
	return append(args, id, "/app.wasm", sleep)
}

// runDetached runs kind k as id with `ctr run -d` until it runs, and
// returns the task's pid.
func (c *shimCrash) runDetached(k crashKind, id string) int {
	c.t.Helper()
	c.d.MustCtr(c.t, k.runArgs(true, id, "60s")...)
	return waitTask(c.t, c.d, id, "running", running).pid
}

// measure takes the windows the kills are spread over: the shortest of
// two runs of each step, per kind.
func (c *shimCrash) measure() {
	t := c.t
	for _, k := range c.kinds {
		if st, err := os.Stat(c.d.Log); err == nil {
			c.logStart = st.Size()
		}
		for range 2 {
			id := newID("crashcal")
			start := time.Now()
			c.runDetached(k, id)
			c.shortest(k.name+" create", time.Since(start))
			start = time.Now()
			c.d.MustCtr(t, "task", "rm", "-f", id)
			c.shortest(k.name+" stop", time.Since(start))
			c.d.MustCtr(t, "container", "rm", id)

			id = newID("crashcal")
			start = time.Now()
			if r, _ := wait(c.ctr(k.runArgs(false, id, "0ms")...)); r.code != 0 || r.stdout != "done\n" {
				t.Fatalf("%s: ctr run --rm: exit %d, stdout %q\nstderr: %s", k.name, r.code, r.stdout, r.stderr)
			}
			c.shortest(k.name+" run", time.Since(start))
		}
		// A killed shim: from the kill until containerd's cleanup with
		// the delete action has removed the namespace and no process
		// of the shim is left.
		id := newID("crashcal")
		c.runDetached(k, id)
		start := time.Now()
		for _, p := range c.shimProcesses(id) {
			syscall.Kill(p.pid, syscall.SIGKILL)
		}
		waitUntil(10*time.Second, time.Millisecond, func() bool {
			_, err := os.Stat(filepath.Join("/run/netns", c.prefix+"-"+id))
			return os.IsNotExist(err) && len(c.shimProcesses(id)) == 0
		})
		c.windows[k.name+" dead shim cleanup"] = time.Since(start).Round(time.Millisecond)
		if err := c.remove(id); err != nil {
			c.fail(k.name+": the shim of a running task killed", id, err.Error())
		} else if l := c.waitNoLeaks(id, k); len(l) > 0 {
			c.fail(k.name+": the shim of a running task killed", id, "left after containerd's cleanup:\n  "+strings.Join(l, "\n  "))
		}
	}
	t.Logf("windows: %v", c.windows)
}

func (c *shimCrash) shortest(what string, d time.Duration) {
	if w, ok := c.windows[what]; !ok || d < w {
		c.windows[what] = d.Round(time.Millisecond)
	}
}

// delay is a random duration in [0, window of what + 10%].
func (c *shimCrash) delay(what string) time.Duration {
	w := c.windows[what]
	return time.Duration(c.rng.Int64N(int64(w+w/10) + 1))
}

// killShim kills every process of id's shim that runs now; when none runs
// yet, it waits for the first one (or until done has a value, which it
// then puts back). It returns where the kill landed ("" for nowhere).
func (c *shimCrash) killShim(id string, done chan ctrResult) string {
	var procs []shimProcess
	waitUntil(30*time.Second, time.Millisecond, func() bool {
		if procs = c.shimProcesses(id); len(procs) > 0 {
			return true
		}
		select {
		case r := <-done:
			done <- r
			return true
		default:
			return false
		}
	})
	if len(procs) == 0 {
		return ""
	}
	phase := "server"
	for _, p := range procs {
		if p.action != "server" && p.action != "fork" {
			phase = p.action + " action"
		}
	}
	if phase == "server" {
		_, err := os.Stat(filepath.Join(c.bundle(id), "wasmrun-exit.json"))
		switch {
		case err == nil:
			phase = "server, exit recorded"
		case initProcessOf(id) != 0:
			phase = "server, container process"
		default:
			phase = "server, no container process"
		}
	}
	for _, p := range procs {
		syscall.Kill(p.pid, syscall.SIGKILL)
	}
	return phase
}

// killAt polls until cond holds (or done has a value, which it puts
// back), then kills the processes of id's shim that which selects: those
// seen while polling and those that run then. It returns phase, or
// "missed: " phase when cond never held or nothing was killed.
func (c *shimCrash) killAt(id string, done chan ctrResult, phase string, cond func() bool, which func(shimProcess) bool) string {
	seen := map[int]bool{}
	scan := func() {
		for _, p := range c.shimProcesses(id) {
			if which(p) {
				seen[p.pid] = true
			}
		}
	}
	held := false
	deadline := time.Now().Add(30 * time.Second)
	for !held && time.Now().Before(deadline) {
		if len(seen) == 0 {
			scan() // a few ms: cond is checked on its own once a process is known
		}
		if held = cond(); held || len(done) > 0 {
			break
		}
		time.Sleep(100 * time.Microsecond)
	}
	killed := false
	for pid := range seen {
		killed = syscall.Kill(pid, syscall.SIGKILL) == nil || killed
	}
	scan()
	for pid := range seen {
		killed = syscall.Kill(pid, syscall.SIGKILL) == nil || killed
	}
	if !held || !killed {
		return "missed: " + phase
	}
	return phase
}

// killContainer waits until id's container process runs (or done has a
// value, which it puts back), kills it and returns its pid (0: none).
func (c *shimCrash) killContainer(id string, done chan ctrResult) int {
	var pid int
	waitUntil(30*time.Second, time.Millisecond, func() bool {
		if pid = initProcessOf(id); pid != 0 {
			return true
		}
		select {
		case r := <-done:
			done <- r
			return true
		default:
			return false
		}
	})
	if pid != 0 {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	return pid
}

// iteration i: one kill, the cleanup containerd and a user do, the leak
// check, the same id run again, the leak check. It reports whether the
// test should go on (it stops after maxFailed failed iterations).
func (c *shimCrash) iteration(i int) bool {
	op := crashOps[i%len(crashOps)]
	k := c.kinds[i%len(c.kinds)]
	id := newID("crash")
	if st, err := os.Stat(c.d.Log); err == nil {
		c.logStart = st.Size()
	}
	var what, phase string
	var ok bool
	switch op {
	case shimInCreate, shimInRun, initInCreate, shimInStop, startAtSocket, shimAtTeardown:
		what, phase, ok = c.killDuringCtr(op, k, id)
		if !ok {
			c.phases[phase]++
			return c.fail(what, id, "ctr still waits 30s after the kill")
		}
	case deleteAction:
		what, phase = c.killDeleteAction(k, id)
	case initRunning:
		pid := c.runDetached(k, id)
		syscall.Kill(pid, syscall.SIGKILL)
		what, phase = fmt.Sprintf("%s, %s", k.name, op), "container process, running"
		waitTask(c.t, c.d, id, "stopped", stopped)
		// As a user removes a stopped task: no -f.
		c.d.MustCtr(c.t, "task", "rm", id)
	}
	c.phases[phase]++
	what = fmt.Sprintf("iteration %d (%s)", i, what)
	var failures []string
	if err := c.remove(id); err != nil {
		failures = append(failures, err.Error())
	} else if l := c.waitNoLeaks(id, k); len(l) > 0 {
		// What a kill leaves for the next run of the id to remove is
		// allowed (issue 12: "nothing that the next run or delete does
		// not remove"): no process of ours may be left to remove it (the
		// start action killed with the server it had just started, whose
		// socket containerd's failed start leaves; a server killed in a
		// Delete that containerd 1.6 follows with no delete action). It
		// is logged; the next run below must remove it.
		c.t.Logf("%s: left until the next run of the id:\n  %s", what, strings.Join(l, "\n  "))
	}
	// The same id again, whatever was left: does it block the name?
	if r, ok := wait(c.ctr(k.runArgs(false, id, "0ms")...)); !ok || r.code != 0 || r.stdout != "done\n" {
		failures = append(failures, fmt.Sprintf("the next run of the same id: exit %d, stdout %q\nstderr: %s", r.code, r.stdout, r.stderr))
	} else if l := c.waitNoLeaks(id, k); len(l) > 0 {
		failures = append(failures, "left after the next run of the same id:\n  "+strings.Join(l, "\n  "))
	} else if len(failures) > 0 {
		failures = append(failures, "nothing left after the next run of the same id")
	}
	if len(failures) > 0 {
		return c.fail(what, id, strings.Join(failures, "\n"))
	}
	c.t.Logf("%s: clean", what)
	return true
}

// killDuringCtr runs the ctr command of op (ctr run -d or --rm of id,
// or ctr task rm -f of id running) and kills the shim, or the container
// process, after a random delay in the command's window. It returns what
// it did, where the kill landed, and whether ctr returned by itself.
func (c *shimCrash) killDuringCtr(op crashOp, k crashKind, id string) (what, phase string, ok bool) {
	var args []string
	var window string
	switch op {
	case shimInCreate, initInCreate:
		args, window = k.runArgs(true, id, "60s"), k.name+" create"
	case shimInRun:
		args, window = k.runArgs(false, id, "0ms"), k.name+" run"
	case shimInStop, shimAtTeardown:
		c.runDetached(k, id)
		args, window = []string{"task", "rm", "-f", id}, k.name+" stop"
	case startAtSocket:
		args = k.runArgs(true, id, "60s")
	}
	var d time.Duration
	if window != "" && op != shimAtTeardown {
		d = c.delay(window)
	}
	done := c.ctr(args...)
	time.Sleep(d)
	returned := len(done) > 0
	switch op {
	case startAtSocket:
		phase = c.killAt(id, done, "start action, socket bound", func() bool {
			_, err := os.Stat(c.socket(id))
			return err == nil
		}, func(p shimProcess) bool { return p.action == "start" })
		r, ok := wait(done)
		return fmt.Sprintf("%s, %s, in %s; ctr exit %d", k.name, op, phase, r.code), phase, ok
	case shimAtTeardown:
		phase = c.killAt(id, done, "delete, namespace gone", func() bool {
			_, err := os.Stat(filepath.Join("/run/netns", c.prefix+"-"+id))
			return os.IsNotExist(err)
		}, func(shimProcess) bool { return true })
		r, ok := wait(done)
		return fmt.Sprintf("%s, %s, in %s; ctr exit %d", k.name, op, phase, r.code), phase, ok
	}
	if op == initInCreate {
		phase = "container process, ctr run -d waiting"
		if returned {
			phase = "container process, running"
		}
		if c.killContainer(id, done) == 0 {
			phase = "no container process"
		}
	} else {
		if phase = c.killShim(id, done); phase == "" {
			phase = "after the shim exited"
		}
		if returned {
			phase = "after ctr returned: " + phase
		}
	}
	r, ok := wait(done)
	return fmt.Sprintf("%s, %s, after %v, in %s; ctr exit %d", k.name, op, d, phase, r.code), phase, ok
}

// killDeleteAction kills the shim of id running, then, after a random
// delay in the window of containerd's cleanup after a dead shim, the
// delete action it runs for it, and restarts containerd: it runs the
// delete action of a dead shim once, keeps the bundle when that fails, and
// runs it again for every bundle left when it starts.
func (c *shimCrash) killDeleteAction(k crashKind, id string) (what, phase string) {
	c.runDetached(k, id)
	d := c.delay(k.name + " dead shim cleanup")
	for _, p := range c.shimProcesses(id) {
		syscall.Kill(p.pid, syscall.SIGKILL)
	}
	time.Sleep(d)
	phase = "before the delete action"
	if _, err := os.Stat(filepath.Join("/run/netns", c.prefix+"-"+id)); os.IsNotExist(err) {
		phase = "after the delete action"
	}
	for _, p := range c.shimProcesses(id) {
		if p.action == "delete" && syscall.Kill(p.pid, syscall.SIGKILL) == nil {
			phase = "delete action"
			waitPidGone(c.t, p.pid)
		}
	}
	// Once containerd is done with the dead shim (a restart in the
	// middle of its own removal of the bundle leaves containerd's
	// .<id> directory, which fails its next removal of that bundle).
	waitTask(c.t, c.d, id, "gone", func(_ taskInfo, ok bool) bool { return !ok })
	c.d.Restart(c.t)
	return fmt.Sprintf("%s, %s, %v after the shim's kill, in %s; containerd restarted", k.name, deleteAction, d, phase), phase
}

// maxFailed is the number of failed iterations after which a daemon's
// crash test stops.
const maxFailed = 6

// fail reports a failed iteration, removes what it left so that the next
// ones start clean, and reports whether the test should go on.
func (c *shimCrash) fail(what, id, msg string) bool {
	c.t.Helper()
	c.t.Errorf("%s: %s\ndaemon log since the iteration began:\n%s", what, msg, c.logSince(c.logStart))
	c.failed++
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c.d.Ctr(ctx, "task", "rm", "-f", id)
	c.d.Ctr(ctx, "container", "rm", id)
	removeLeftovers(id)
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) > 4 && strings.Contains(f[4], "/"+id+"/") {
				syscall.Unmount(f[4], syscall.MNT_DETACH)
			}
		}
	}
	os.RemoveAll(c.bundle(id))
	os.RemoveAll(filepath.Join(c.d.Dir, "root", "io.containerd.runtime.v2.task", testdaemon.Namespace, id))
	os.Remove(filepath.Join(c.state, c.prefix+"-"+id+".json"))
	delBridge(c.bridge)
	os.RemoveAll(c.ipamDir())
	os.Remove(c.bridgeMarker())
	os.Remove(c.socket(id))
	if cache, _ := filepath.Glob("/run/wasmrun/cni-cache/*/*" + id + "*"); len(cache) > 0 {
		for _, f := range cache {
			os.Remove(f)
		}
	}
	return c.failed < maxFailed
}
