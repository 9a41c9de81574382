package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/internal/testdaemon"
)

// busyboxRootfs returns a directory holding busybox-static as
// /bin/busybox, with /bin/sh, /bin/sleep, /bin/wget, /bin/cat and
// /bin/echo linking to it: a native (ELF) container's root.
func busyboxRootfs(t testing.TB) string {
	t.Helper()
	bb, err := os.ReadFile(testdaemon.BusyboxStatic)
	if err != nil {
		t.Skipf("busybox-static is not installed: %v", err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range busyboxApplets {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// busyboxApplets are the programs of a busybox root.
var busyboxApplets = []string{"sh", "sleep", "wget", "cat", "echo", "hostname", "tty", "stty", "httpd", "mkdir"}

// TestShimNative: a native (ELF) container under the wasmrun runtime is
// run by runc with the same spec, through the same task API: its output
// and exit status reach ctr, a signal ends it, pause freezes it, metrics
// are its cgroup's, and deleting it leaves nothing (no runc state, cgroup,
// mount or process).
func TestShimNative(t *testing.T) {
	needRootShim(t)
	rootfs := busyboxRootfs(t)
	for _, v := range shimDaemons {
		t.Run(v.name, func(t *testing.T) {
			d := startShimDaemon(t, v.bin(t))
			t.Run("output_exit", func(t *testing.T) {
				id := newID("native")
				ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
				defer cancel()
				out, stderr, err := d.Ctr(ctx, "run", "--rm", "--runtime", shimRuntime, "--rootfs", rootfs, id,
					"/bin/sh", "-c", "echo native $(cat /proc/self/cgroup | head -c 0)hello; exit 3")
				code, _ := unwrapExit(err)
				if code != 3 || !strings.Contains(out, "native hello") {
					t.Fatalf("ctr run: exit %d (%v), out %q, stderr %q\n%s", code, err, out, stderr, d.TailLog())
				}
			})
			t.Run("kill_pause_metrics", func(t *testing.T) {
				id := newID("native")
				events := watchEvents(t, d)
				// The container's first process ignores a signal it has no
				// handler for (it is pid 1 of its pid namespace): this one
				// answers SIGTERM with exit 7.
				d.MustCtr(t, "run", "-d", "--runtime", shimRuntime, "--rootfs", rootfs, id, "/bin/sh", "-c", "trap 'exit 7' TERM; sleep 1000 & wait")
				t.Cleanup(func() { removeTask(t, d, id) })
				pid := waitTask(t, d, id, "running", running).pid
				if c := cmdline(pid); !strings.HasPrefix(c, "/bin/sh -c") {
					t.Fatalf("task pid %d runs %q, want /bin/sh -c ...", pid, c)
				}
				if m := d.MustCtr(t, "task", "metrics", id); !strings.Contains(m, "memory") {
					t.Errorf("ctr task metrics:\n%s", m)
				}
				d.MustCtr(t, "task", "pause", id)
				if ti := taskList(t, d)[id]; ti.status != "PAUSED" {
					t.Fatalf("after pause: %+v", ti)
				}
				if fz := freezerState(t, id); fz != "FROZEN" {
					t.Errorf("freezer of a paused native task: %q, want FROZEN", fz)
				}
				d.MustCtr(t, "task", "resume", id)
				if fz := freezerState(t, id); fz != "THAWED" {
					t.Errorf("freezer of a resumed native task: %q, want THAWED", fz)
				}
				d.MustCtr(t, "task", "kill", "-s", "SIGTERM", id)
				if ev := events.want(t, "/tasks/exit", id); !strings.Contains(ev, `"exit_status":7`) {
					t.Errorf("exit event %q, want exit status 7", ev)
				}
				waitTask(t, d, id, "stopped", stopped)
				d.MustCtr(t, "task", "delete", id)
				d.MustCtr(t, "container", "rm", id)
				if !waitUntil(10*time.Second, 10*time.Millisecond, func() bool { return pidGone(pid) }) {
					t.Errorf("process %d outlived its task", pid)
				}
			})
			// ctr run -t: runc opens the pty in the container and sends
			// its master to the shim, which serves it as a wasm task's.
			t.Run("terminal", func(t *testing.T) {
				id := newID("nativetty")
				defer removeTask(t, d, id)
				r := startCtrOnPty(t, d, "run", "--rm", "-t", "--runtime", shimRuntime, "--rootfs", rootfs, id, "/bin/sh", "-c", nativeTTYScript)
				testNativeTerminal(t, r, waitTask(t, d, id, "running", running).pid)
			})
			t.Run("exec_terminal", func(t *testing.T) {
				id := newID("nativettyx")
				d.MustCtr(t, "run", "-d", "--runtime", shimRuntime, "--rootfs", rootfs, id, "/bin/sleep", "1000")
				t.Cleanup(func() { removeTask(t, d, id) })
				waitTask(t, d, id, "running", running)
				r := startCtrOnPty(t, d, "task", "exec", "-t", "--exec-id", "sh", id, "/bin/sh", "-c", nativeTTYScript)
				testNativeTerminal(t, r, execPid(t, d, id, "sh"))
			})
			// runc_path naming nothing: one clear error, nothing made.
			t.Run("runc_missing", func(t *testing.T) {
				config := filepath.Join(t.TempDir(), "shim.toml")
				writeFile(t, config, "runc_path = \"/nonexistent/runc\"\n")
				id := newID("norunc")
				ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
				defer cancel()
				_, stderr, err := d.Ctr(ctx, "run", "--rm", "--runtime", shimRuntime, "--runtime-config-path", config, "--rootfs", rootfs, id, "/bin/sh", "-c", "exit 0")
				removeTask(t, d, id)
				if err == nil || !strings.Contains(stderr, `runc_path "/nonexistent/runc" not found`) {
					t.Errorf("ctr run with a missing runc: %v\n%s", err, stderr)
				}
				if l := shimLeftovers(id); len(l) > 0 {
					t.Errorf("left behind: %v", l)
				}
			})
			t.Run("shim_killed_while_paused", func(t *testing.T) {
				// The shim's delete action (containerd's cleanup of a dead
				// shim) finds the container in runc's state in the bundle
				// and removes it: its process, frozen, does not die with
				// the shim.
				id := newID("native")
				d.MustCtr(t, "run", "-d", "--runtime", shimRuntime, "--rootfs", rootfs, id, "/bin/sleep", "1000")
				t.Cleanup(func() { removeTask(t, d, id) })
				killShimWhilePaused(t, d, id, waitTask(t, d, id, "running", running).pid)
			})
		})
	}
}

// freezerState is the v1 freezer state of ctr's cgroup of task id.
func freezerState(t testing.TB, id string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/freezer", testdaemon.Namespace, id, "freezer.state"))
	if err != nil {
		t.Fatalf("freezer state of %s: %v", id, err)
	}
	return strings.TrimSpace(string(b))
}

// nativeTTYScript runs on a native container's terminal: it names its
// terminal, waits for a line, then prints the line and the window size
// and exits 4.
const nativeTTYScript = `[ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo "on $(tty)"; echo ready; read line; echo "got:$line size:$(stty size)"; exit 4`

// testNativeTerminal: the native process pid (run by ctr on the test's
// 100x40 pty, r) has a pty of its own on fds 0-2, gets the window size ctr
// sends, reads what is typed, and its exit status is ctr's.
func testNativeTerminal(t *testing.T, r *ctrPty, pid int) {
	t.Helper()
	r.waitFor(t, "ready")
	if out := r.output(); !strings.Contains(out, "on /dev/pts/") {
		t.Errorf("the native process is not on a terminal:\n%q", out)
	}
	// Its pty, opened from the host through its fd: ctr's size arrives.
	f, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/0", pid), os.O_RDONLY|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ws *unix.Winsize
	if !waitUntil(10*time.Second, 10*time.Millisecond, func() bool {
		ws, err = unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
		return err == nil && ws.Col == 100 && ws.Row == 40
	}) {
		t.Errorf("window size of the native process's terminal: %+v (%v), want 100x40", ws, err)
	}
	f.Close() // or the master would not see the process's side close
	if _, err := r.master.Write([]byte("typed\n")); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, "got:typed size:40 100")
	if code := r.wait(t); code != 4 {
		t.Errorf("ctr exited %d, want the native process's 4\n%q", code, r.output())
	}
}

// childrenOf lists the children of every thread of process pid.
func childrenOf(pid int) []int {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(b)) {
			var c int
			fmt.Sscan(s, &c)
			out = append(out, c)
		}
	}
	return out
}
