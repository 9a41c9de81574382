package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/testdaemon"
)

// shimRuntime is the runtime name that makes containerd run our shim.
const shimRuntime = "io.containerd.wasmrun.v1"

var (
	shimOnce sync.Once
	shimDir  string
	shimErr  error
)

// shimBinDir builds containerd-shim-wasmrun-v1 once into a directory that
// daemons put first on their PATH (next to the wasmrun binary, removed by
// TestMain).
func shimBinDir(t testing.TB) string {
	t.Helper()
	shimOnce.Do(func() {
		shimDir = filepath.Join(filepath.Dir(wasmrun), "shim-bin")
		// The shim starts wasmrun-init from its own directory.
		shimErr = buildBinaries(shimDir, "./cmd/containerd-shim-wasmrun-v1", "./cmd/wasmrun-shim", "./cmd/wasmrun-init")
	})
	if shimErr != nil {
		t.Fatal(shimErr)
	}
	return shimDir
}

// needRootShim skips t unless it runs as root.
func needRootShim(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (containerd, network namespaces, cgroups)")
	}
}

// shimDaemons returns the containerd releases the shim is tested on; one
// subtest each.
var shimDaemons = []struct {
	name string
	bin  func(testdaemon.TB) testdaemon.Binaries
}{
	{"containerd-2.4.2", testdaemon.Containerd2},
	{"containerd-1.6", testdaemon.Containerd16},
}

// startShimDaemon starts a private daemon whose PATH finds the shim, with
// the package's compiled-module cache. At the end of the test the daemon
// removes every container through containerd's delete path and reports
// shims and cgroups left (testdaemon's cleanup); then nothing of a
// container id made by newID meanwhile may be left (shimLeftovers).
func startShimDaemon(t *testing.T, bin testdaemon.Binaries) *testdaemon.Daemon {
	t.Helper()
	first := len(idsSince(0))
	// Registered first, so run last: after the daemon's cleanup.
	t.Cleanup(func() {
		for _, id := range idsSince(first) {
			if l := shimLeftovers(id); len(l) > 0 {
				t.Errorf("container %s left behind:\n  %s", id, strings.Join(l, "\n  "))
				removeLeftovers(id)
			}
		}
	})
	return testdaemon.Start(t, bin, testdaemon.Options{
		PathDirs: []string{shimBinDir(t)},
		Env:      []string{"WASMRUN_CACHE_DIR=" + cacheDir},
	})
}

var (
	idSeq atomic.Int64
	idsMu sync.Mutex
	ids   []string // every id newID made, in order
)

// newID returns a container id unique in this test run (and on the
// machine: it holds the test binary's pid).
func newID(prefix string) string {
	id := fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), idSeq.Add(1))
	idsMu.Lock()
	ids = append(ids, id)
	idsMu.Unlock()
	return id
}

// idsSince returns the ids newID made after the first n.
func idsSince(n int) []string {
	idsMu.Lock()
	defer idsMu.Unlock()
	return append([]string{}, ids[min(n, len(ids)):]...)
}

// shimLeftovers lists what of container id is on the machine: a network
// namespace of any prefix (/run/netns/*-ID), a mount that names it, a
// cgroup of ctr's default path (/<namespace>/ID), a process whose command
// line holds it as an argument (its shim's -id, its wasmrun-init).
func shimLeftovers(id string) []string {
	var out []string
	if ns, _ := filepath.Glob("/run/netns/*-" + id); len(ns) > 0 {
		for _, n := range ns {
			out = append(out, "namespace "+n)
		}
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) > 4 && (strings.HasSuffix(f[4], "-"+id) || strings.Contains(f[4]+"/", "/"+id+"/")) {
				out = append(out, "mount "+f[4])
			}
		}
	}
	for _, cg := range testdaemon.CgroupDirs("/" + testdaemon.Namespace + "/" + id) {
		out = append(out, "cgroup "+cg)
	}
	for _, pid := range processesOf(id) {
		out = append(out, fmt.Sprintf("process %d: %s", pid, cmdline(pid)))
	}
	return out
}

// processesOf returns the live processes that have id as an argument.
func processesOf(id string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || pidGone(pid) {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		for _, a := range strings.Split(string(b), "\x00") {
			if a == id {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

// cmdline returns process pid's command line, spaces between arguments.
func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// removeLeftovers removes what shimLeftovers finds of id, by force (after
// a test failed because of it): processes killed, mounts detached,
// namespace files and cgroups removed.
func removeLeftovers(id string) {
	for _, pid := range processesOf(id) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	ns, _ := filepath.Glob("/run/netns/*-" + id)
	for _, n := range ns {
		syscall.Unmount(n, syscall.MNT_DETACH)
		os.Remove(n)
	}
	removeCgroupTree("/" + testdaemon.Namespace + "/" + id)
	// The namespace's parent cgroup, if this was its last container
	// (the daemon's cleanup could not remove it while a leftover was in
	// it); a parent still in use stays.
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	for _, r := range roots {
		os.Remove(filepath.Join(r, testdaemon.Namespace))
	}
}

// rootfsWith returns a directory holding wasm as /app.wasm.
func rootfsWith(t testing.TB, wasm string) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(wasm)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.wasm"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// ctrRun is `ctr run --rm --runtime wasmrun --rootfs` of /app.wasm ARGS and
// returns stdout and the exit code.
func ctrRun(t testing.TB, d *testdaemon.Daemon, rootfs, id string, extra []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cargs := append([]string{"run", "--rm", "--runtime", shimRuntime}, extra...)
	cargs = append(cargs, "--rootfs", rootfs, id, "/app.wasm")
	out, stderr, err := d.Ctr(ctx, append(cargs, args...)...)
	code := 0
	if err != nil {
		ee, ok := unwrapExit(err)
		if !ok {
			t.Fatalf("%v\ndaemon log:\n%s", err, d.TailLog())
		}
		code = ee
		if code != 0 && strings.Contains(stderr, "ctr: ") && !strings.Contains(stderr, "exit status") {
			t.Logf("ctr stderr: %s", stderr)
		}
	}
	return out, code
}

// unwrapExit returns the exit code of the *exec.ExitError that err wraps,
// and whether there is one.
func unwrapExit(err error) (int, bool) {
	for e := err; e != nil; {
		if ee, ok := e.(*exec.ExitError); ok {
			return ee.ExitCode(), true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return 0, false
		}
		e = u.Unwrap()
	}
	return 0, false
}

// taskInfo is one line of `ctr task ls`.
type taskInfo struct {
	pid    int
	status string
}

// taskList returns `ctr task ls` by task id.
func taskList(t testing.TB, d *testdaemon.Daemon) map[string]taskInfo {
	t.Helper()
	out := d.MustCtr(t, "task", "ls")
	m := map[string]taskInfo{}
	for i, l := range lines(out) {
		f := strings.Fields(l)
		if i == 0 || len(f) < 3 {
			continue // header
		}
		pid, _ := strconv.Atoi(f[1])
		m[f[0]] = taskInfo{pid, f[2]}
	}
	return m
}

// waitTask polls `ctr task ls` until cond holds for id's entry (ok=false
// when absent).
func waitTask(t testing.TB, d *testdaemon.Daemon, id string, what string, cond func(ti taskInfo, ok bool) bool) taskInfo {
	t.Helper()
	var ti taskInfo
	var ok bool
	if !waitUntil(30*time.Second, 20*time.Millisecond, func() bool {
		ti, ok = taskList(t, d)[id]
		return cond(ti, ok)
	}) {
		t.Fatalf("task %s: not %s after 30s (last: %+v, present %v)\ndaemon log:\n%s", id, what, ti, ok, d.TailLog())
	}
	return ti
}

func running(ti taskInfo, ok bool) bool { return ok && ti.status == "RUNNING" }
func stopped(ti taskInfo, ok bool) bool { return !ok || ti.status == "STOPPED" }

// startDetached starts /app.wasm ARGS with `ctr run -d` and waits until it
// runs; it returns the task pid. The task is removed at the end.
func startDetached(t testing.TB, d *testdaemon.Daemon, rootfs, id string, extra []string, args ...string) int {
	t.Helper()
	cargs := append([]string{"run", "-d", "--runtime", shimRuntime}, extra...)
	cargs = append(cargs, "--rootfs", rootfs, id, "/app.wasm")
	d.MustCtr(t, append(cargs, args...)...)
	t.Cleanup(func() { removeTask(t, d, id) })
	return waitTask(t, d, id, "running", running).pid
}

// removeTask kills and deletes task id and its container, if present.
func removeTask(t testing.TB, d *testdaemon.Daemon, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d.Ctr(ctx, "task", "kill", "-s", "SIGKILL", id)
	d.Ctr(ctx, "task", "delete", "--force", id)
	d.Ctr(ctx, "container", "rm", id)
}

// killTask kills task id with SIGKILL, waits until it has stopped,
// deletes it and its container, and waits until its process pid is gone;
// any failing step fails t.
func killTask(t testing.TB, d *testdaemon.Daemon, id string, pid int) {
	t.Helper()
	d.MustCtr(t, "task", "kill", "-s", "SIGKILL", id)
	waitTask(t, d, id, "stopped", stopped)
	d.MustCtr(t, "task", "delete", id)
	d.MustCtr(t, "container", "rm", id)
	waitPidGone(t, pid)
}

// pidGone reports whether pid no longer runs (or is a zombie).
func pidGone(pid int) bool {
	s := procState(pid)
	return s == "" || s == "Z"
}

// waitPidGone waits up to 30s until process pid is gone (see pidGone).
func waitPidGone(t testing.TB, pid int) {
	t.Helper()
	if !waitUntil(30*time.Second, 20*time.Millisecond, func() bool { return pidGone(pid) }) {
		t.Fatalf("process %d still runs after 30s", pid)
	}
}

// netnsPath is where the shim's network manager keeps the namespace of
// container id.
func netnsPath(id string) string { return "/run/netns/wasmrun-" + id }

// nsInode returns the inode of the namespace file at path (equal inodes:
// the same namespace).
func nsInode(t testing.TB, path string) uint64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Ino
}
