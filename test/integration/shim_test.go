package integration

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/guests"
	"github.com/wasmrun/wasmrun/internal/testdaemon"
)

// TestShim runs the shim under each containerd release with ctr: one
// private daemon per release, shared by the subtests.
func TestShim(t *testing.T) {
	needRootShim(t)
	argsWasm := guests.C(t, "args_env_exit")
	args := rootfsWith(t, argsWasm)
	spin := rootfsWith(t, guests.C(t, "spin"))
	cat := rootfsWith(t, guests.C(t, "cat"))
	httpd := rootfsWith(t, guests.Go(t, "sockhttp"))
	netapp := rootfsWith(t, guests.Go(t, "netapp"))
	tamper := rootfsWith(t, guests.C(t, "tamper"))
	for _, v := range shimDaemons {
		t.Run(v.name, func(t *testing.T) {
			d := startShimDaemon(t, v.bin(t))
			t.Run("output_args_env_exit", func(t *testing.T) { testShimRun(t, d, args) })
			t.Run("bad_entrypoint", func(t *testing.T) { testShimBadEntrypoint(t, d, args) })
			t.Run("oci_image", func(t *testing.T) { testShimImage(t, d, argsWasm) })
			if d.Bin.ConfigVersion >= 3 { // 1.6 cannot unpack wasm-artifact images
				t.Run("wasm_artifact_image", func(t *testing.T) { testShimWasmArtifact(t, d, argsWasm) })
			}
			t.Run("hooks", func(t *testing.T) { testShimHooks(t, d, args) })
			t.Run("log_uri", func(t *testing.T) { testShimLogURI(t, d, args) })
			t.Run("stdin", func(t *testing.T) { testShimStdin(t, d, cat) })
			t.Run("events_config", func(t *testing.T) { testShimEventsConfig(t, d, args) })
			t.Run("task_api", func(t *testing.T) { testShimTTRPC(t, d, spin) })
			t.Run("http_in_netns", func(t *testing.T) { testShimHTTP(t, d, httpd) })
			t.Run("bridge", func(t *testing.T) { testShimBridge(t, d, spin) })
			t.Run("cri_sandbox", func(t *testing.T) { testShimSandbox(t, d) })
			t.Run("kill", func(t *testing.T) { testShimKill(t, d, spin) })
			t.Run("ls_pids_metrics", func(t *testing.T) { testShimTaskInfo(t, d, spin) })
			t.Run("netns", func(t *testing.T) { testShimNetns(t, d, spin) })
			t.Run("outbound", func(t *testing.T) { testShimOutbound(t, d, netapp) })
			t.Run("read_only", func(t *testing.T) { testShimReadOnly(t, d, tamper) })
			t.Run("user", func(t *testing.T) { testShimUser(t, d) })
			t.Run("private_root", func(t *testing.T) { testShimPrivateRoot(t, d) })
			t.Run("memory_limit", func(t *testing.T) { testShimMemoryLimit(t, d) })
			t.Run("tmpfs_mount", func(t *testing.T) { testShimTmpfsMount(t, d) })
			t.Run("exec_tmpfs", func(t *testing.T) { testShimExecTmpfs(t, d) })
			t.Run("seccomp", func(t *testing.T) { testShimSeccomp(t, d) })
			t.Run("daemon_restart", func(t *testing.T) { testShimDaemonRestart(t, d, spin) })
			t.Run("shim_killed", func(t *testing.T) { testShimKilled(t, d, spin) })
			t.Run("delete_action_no_daemon", func(t *testing.T) { testShimDeleteAction(t, d, spin) })
			t.Run("no_leaks", func(t *testing.T) { testShimNoLeaks(t, d, args) })
		})
	}
}

func testShimRun(t *testing.T, d *testdaemon.Daemon, rootfs string) {
	id := newID("run")
	out, code := ctrRun(t, d, rootfs, id, []string{"--env", "GREETING=hi"}, "3", "two words", "x")
	if code != 3 {
		t.Fatalf("exit code %d, want 3\nstdout:\n%s", code, out)
	}
	for _, want := range []string{"argc 4", "app.wasm]", "arg 1 [3]", "arg 2 [two words]", "arg 3 [x]", "lookup GREETING [hi]", "env [PWD=/]"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "to stderr") {
		t.Errorf("stderr text on stdout:\n%s", out)
	}
	if out, code := ctrRun(t, d, rootfs, newID("run"), nil); code != 0 || !strings.Contains(out, "argc 1\n") {
		t.Fatalf("exit code %d, want 0\nstdout:\n%s", code, out)
	}
	// --rm removed the container.
	if ls := d.MustCtr(t, "container", "ls", "-q"); strings.Contains(ls, id) {
		t.Errorf("container %s still listed after run --rm:\n%s", id, ls)
	}
}

// testShimKill runs a spinning guest in the foreground (ctr run --rm) and
// kills it: ctr exits with 128+signal.
func testShimKill(t *testing.T, d *testdaemon.Daemon, rootfs string) {
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		t.Run(strings.TrimPrefix(fmt.Sprint(sig), "signal "), func(t *testing.T) {
			id := newID("kill")
			ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
			defer cancel()
			cmd := d.CtrCommand(ctx, "run", "--rm", "--runtime", shimRuntime, "--rootfs", rootfs, id, "/app.wasm")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { removeTask(t, d, id) })
			ti := waitTask(t, d, id, "running", running)
			name := map[syscall.Signal]string{syscall.SIGKILL: "SIGKILL", syscall.SIGTERM: "SIGTERM"}[sig]
			kill := []string{"task", "kill", "-s", name, id}
			if sig == syscall.SIGTERM {
				kill = append(kill[:2], "--all", "-s", name, id) // all=true: the same one process
			}
			d.MustCtr(t, kill...)
			err := cmd.Wait()
			code, _ := unwrapExit(err)
			if err == nil {
				code = 0
			}
			if want := 128 + int(sig); code != want {
				t.Fatalf("ctr run exit code %d, want %d (%v)", code, want, err)
			}
			waitPidGone(t, ti.pid)
		})
	}
}

func testShimTaskInfo(t *testing.T, d *testdaemon.Daemon, rootfs string) {
	id := newID("info")
	pid := startDetached(t, d, rootfs, id, nil)
	if ti := taskList(t, d)[id]; ti.pid != pid || ti.status != "RUNNING" {
		t.Fatalf("task ls: %+v, want pid %d RUNNING", ti, pid)
	}
	pids := d.MustCtr(t, "task", "ps", id)
	if !strings.Contains(pids, fmt.Sprintf("\n%d ", pid)) && !strings.Contains(pids, fmt.Sprintf("\n%d\t", pid)) {
		t.Errorf("task ps does not list %d:\n%s", pid, pids)
	}
	metrics := d.MustCtr(t, "task", "metrics", id)
	for _, want := range []string{"memory.usage_in_bytes", id} {
		if !strings.Contains(metrics, want) {
			t.Errorf("task metrics lacks %q:\n%s", want, metrics)
		}
	}
	killTask(t, d, id, pid)
}

// testShimNetns: ctr's default spec asks for a new network namespace; the
// task process lives in it. --net-host keeps the host's.
func testShimNetns(t *testing.T, d *testdaemon.Daemon, rootfs string) {
	id := newID("netns")
	pid := startDetached(t, d, rootfs, id, nil)
	taskNS := nsInode(t, fmt.Sprintf("/proc/%d/ns/net", pid))
	if host := nsInode(t, "/proc/self/ns/net"); taskNS == host {
		t.Fatalf("task %d is in the host network namespace", pid)
	}
	if named := nsInode(t, netnsPath(id)); named != taskNS {
		t.Fatalf("task namespace inode %d, %s has %d", taskNS, netnsPath(id), named)
	}
	removeTask(t, d, id)
	if _, err := os.Stat(netnsPath(id)); !os.IsNotExist(err) {
		t.Errorf("%s left after delete (%v)", netnsPath(id), err)
	}

	hid := newID("nethost")
	hpid := startDetached(t, d, rootfs, hid, []string{"--net-host"})
	if nsInode(t, fmt.Sprintf("/proc/%d/ns/net", hpid)) != nsInode(t, "/proc/self/ns/net") {
		t.Errorf("--net-host task is not in the host namespace")
	}
}

// testShimDaemonRestart: the task outlives containerd; the new daemon
// reconnects to its shim, kills and deletes it.
func testShimDaemonRestart(t *testing.T, d *testdaemon.Daemon, rootfs string) {
	id := newID("restart")
	pid := startDetached(t, d, rootfs, id, nil)
	d.Restart(t)
	if pidGone(pid) {
		t.Fatal("task died with the daemon")
	}
	if ti := taskList(t, d)[id]; ti.pid != pid || ti.status != "RUNNING" {
		t.Fatalf("after restart task ls: %+v, want pid %d RUNNING", ti, pid)
	}
	killTask(t, d, id, pid)
	if _, err := os.Stat(netnsPath(id)); !os.IsNotExist(err) {
		t.Errorf("%s left after delete (%v)", netnsPath(id), err)
	}
}

// testShimKilled: SIGKILL of the shim takes the task with it; containerd
// notices, cleans up with the delete action, and the container can go.
func testShimKilled(t *testing.T, d *testdaemon.Daemon, rootfs string) {
	id := newID("shimkill")
	pid := startDetached(t, d, rootfs, id, nil)
	shimPid := ppid(t, pid)
	if err := syscall.Kill(shimPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitPidGone(t, pid)
	waitTask(t, d, id, "stopped or gone", stopped)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d.Ctr(ctx, "task", "delete", id) // may already be gone
	d.MustCtr(t, "container", "rm", id)
	if !waitUntil(30*time.Second, 20*time.Millisecond, func() bool {
		_, err := os.Stat(netnsPath(id))
		return os.IsNotExist(err)
	}) {
		t.Fatalf("%s left after the shim was killed", netnsPath(id))
	}
}

func ppid(t testing.TB, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	var p int
	fmt.Sscan(f[1], &p)
	return p
}

// testShimNoLeaks: 50 sequential and 10 parallel runs leave no namespace,
// mount or process behind.
func testShimNoLeaks(t *testing.T, d *testdaemon.Daemon, rootfs string) {
	var ids []string
	var mu sync.Mutex
	one := func(t *testing.T) {
		id := newID("leak")
		mu.Lock()
		ids = append(ids, id)
		mu.Unlock()
		if out, code := ctrRun(t, d, rootfs, id, nil, "0"); code != 0 || !strings.Contains(out, "argc 2\n") {
			t.Errorf("run %s: exit %d, stdout:\n%s", id, code, out)
		}
	}
	for range 50 {
		one(t)
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			one(t)
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if _, err := os.Stat(netnsPath(id)); !os.IsNotExist(err) {
			t.Errorf("namespace %s left behind", netnsPath(id))
		}
	}
	if ls := strings.TrimSpace(d.MustCtr(t, "container", "ls", "-q")); ls != "" {
		t.Errorf("containers left: %s", ls)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mounts), "\n") {
		// This run's only (another run on the machine has its own).
		if strings.Contains(l, d.Dir) || strings.Contains(l, fmt.Sprintf("/netns/wasmrun-leak-%d-", os.Getpid())) {
			t.Errorf("mount left: %s", l)
		}
	}
	// Every shim exits once its task is deleted.
	var left []int
	if !waitUntil(30*time.Second, 20*time.Millisecond, func() bool {
		left = d.Processes()
		return len(left) == 0
	}) {
		t.Fatalf("shim processes left: %v", left)
	}
}

// testShimBadEntrypoint: a module that is not WebAssembly (nor a native
// program), a native one runc cannot run, or a missing one
// fails the run with a message that says so, and leaves nothing behind.
func testShimBadEntrypoint(t *testing.T, d *testdaemon.Daemon, rootfs string) {
	dir := t.TempDir()
	writeFile(t, dir+"/app.txt", "hello, neither wasm nor a program\n")
	// A script is native (runc runs it): this one is not executable.
	writeFile(t, dir+"/app.sh", "#!/bin/sh\necho hi\n")
	for _, tc := range []struct{ rootfs, module, want string }{
		{dir, "/app.txt", "not a WebAssembly binary"},
		{dir, "/app.sh", `exec: "/app.sh": permission denied`},
		{rootfs, "/missing.wasm", "not found in the container root"},
	} {
		id := newID("bad")
		ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
		_, stderr, err := d.Ctr(ctx, "run", "--rm", "--runtime", shimRuntime, "--rootfs", tc.rootfs, id, tc.module)
		cancel()
		if err == nil {
			t.Fatalf("run of %s succeeded", tc.module)
		}
		if !strings.Contains(stderr, tc.want) {
			t.Errorf("run of %s: stderr lacks %q:\n%s", tc.module, tc.want, stderr)
		}
		removeTask(t, d, id)
		if _, err := os.Stat(netnsPath(id)); !os.IsNotExist(err) {
			t.Errorf("%s left after a failed create", netnsPath(id))
		}
	}
}
