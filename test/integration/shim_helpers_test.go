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
		shimErr = buildBinaries(shimDir, "./cmd/containerd-shim-wasmrun-v1", "./cmd/wasmrun-init")
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
// the package's compiled-module cache.
func startShimDaemon(t *testing.T, bin testdaemon.Binaries) *testdaemon.Daemon {
	t.Helper()
	return testdaemon.Start(t, bin, testdaemon.Options{
		PathDirs: []string{shimBinDir(t)},
		Env:      []string{"WASMRUN_CACHE_DIR=" + cacheDir},
	})
}

var idSeq atomic.Int64

// newID returns a container id unique in this test run.
func newID(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), idSeq.Add(1))
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
