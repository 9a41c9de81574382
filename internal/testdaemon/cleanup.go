package testdaemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// The end of a daemon. What a test leaves goes the way a user removes
// it: every task through `ctr task rm -f` (the shim kills and deletes it),
// every container through `ctr container rm`, in every namespace; the
// task of a shim that died is cleaned up by containerd itself, which runs
// the shim binary's delete action. Only then is the daemon stopped, and
// what the runtime under test still left is reported as a leak (a shim
// that outlives its tasks, a container's cgroup that outlives it) and
// removed by force: killed, unmounted, deleted.

// live counts this process's daemons that have not been cleaned up: the
// last one removes the parent cgroup /Namespace.
var live atomic.Int32

// cleanupTimeout bounds each ctr call of the cleanup (a hung shim must not
// hang the test binary).
const cleanupTimeout = 30 * time.Second

func (d *Daemon) cleanup(t TB) {
	defer live.Add(-1)
	if t.Failed() {
		t.Logf("%s log (tail):\n%s", d.Bin.Name, d.tailLog())
	}
	if d.cmd != nil { // a test may have stopped it
		d.removeContainers(t)
		// Every shim exits once its last task is deleted.
		if left := d.waitShims(10 * time.Second); len(left) > 0 {
			report(t, "%s: shim processes outlive their tasks: %s", d.Bin.Name, describe(left))
			for _, pid := range left {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			// containerd notices the dead shims and cleans up after them.
			d.waitShims(10 * time.Second)
			d.removeContainers(t)
		}
	}
	d.Stop(t)
	// Shims (and through their death signal, their tasks) of a daemon
	// that was stopped by the test.
	for _, pid := range d.Processes() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	// Mounts under the daemon's directory (image rootfs of tasks).
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		var mps []string
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) > 4 && strings.HasPrefix(f[4], d.Dir+"/") {
				mps = append(mps, f[4])
			}
		}
		for i := len(mps) - 1; i >= 0; i-- {
			syscall.Unmount(mps[i], syscall.MNT_DETACH)
		}
	}
	if err := os.RemoveAll(d.Dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Logf("remove %s: %v", d.Dir, err)
	}
	if live.Load() == 1 { // the last daemon of this process
		for _, cg := range removeCgroupParent("/" + Namespace) {
			report(t, "%s: cgroup left after its container was removed: %s", d.Bin.Name, cg)
		}
	}
}

// removeContainers removes every task and container of every namespace
// through containerd's delete path.
func (d *Daemon) removeContainers(t TB) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	out, _, err := d.Ctr(ctx, "namespaces", "ls", "-q")
	cancel()
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	for _, ns := range strings.Fields(out) {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		ids, _, err := d.CtrNS(ctx, ns, "containers", "ls", "-q")
		cancel()
		if err != nil {
			t.Logf("cleanup: %v", err)
			continue
		}
		for _, id := range strings.Fields(ids) {
			ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
			// -f: SIGKILL, wait, delete. A task that is not there (never
			// started, deleted, or cleaned up after its dead shim) is
			// not found.
			if _, stderr, err := d.CtrNS(ctx, ns, "tasks", "rm", "-f", id); err != nil && !strings.Contains(stderr, "not found") {
				t.Logf("cleanup: %v", err)
			}
			if _, _, err := d.CtrNS(ctx, ns, "containers", "rm", id); err != nil {
				t.Logf("cleanup: %v", err)
			}
			cancel()
		}
	}
}

// waitShims waits up to timeout until no shim of the daemon runs, and
// returns those that still do.
func (d *Daemon) waitShims(timeout time.Duration) []int {
	deadline := time.Now().Add(timeout)
	for {
		left := d.Processes()
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// describe lists pids with their command lines.
func describe(pids []int) string {
	var parts []string
	for _, pid := range pids {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		parts = append(parts, fmt.Sprintf("%d (%s)", pid, strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))))
	}
	return strings.Join(parts, ", ")
}

// report fails t with the message if t can fail without stopping (a
// *testing.T in a cleanup), and logs it otherwise.
func report(t TB, format string, args ...any) {
	t.Helper()
	if e, ok := t.(interface{ Errorf(string, ...any) }); ok {
		e.Errorf(format, args...)
		return
	}
	t.Logf(format, args...)
}

// CgroupDirs returns the directories of cgroup path (as a spec's
// cgroupsPath names it) that exist: one per v1 hierarchy, a hybrid
// host's unified one, or the cgroup2 root's.
func CgroupDirs(path string) []string {
	var out []string
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	for _, r := range append(roots, "/sys/fs/cgroup") {
		p := filepath.Join(r, path)
		if r != "/sys/fs/cgroup" && strings.HasPrefix(filepath.Base(r), "cgroup.") {
			continue // a cgroup2 root's files
		}
		if st, err := os.Stat(p); err == nil && st.IsDir() && p != "/sys/fs/cgroup" {
			out = append(out, p)
		}
	}
	return out
}

// removeCgroupParent removes the cgroup parent (this process's own) from
// every hierarchy, and returns the cgroups that were left under it: they
// are removed too, their processes killed first.
func removeCgroupParent(parent string) []string {
	var leaked []string
	for _, dir := range CgroupDirs(parent) {
		var dirs []string
		filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
			if err == nil && de.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- { // children first
			if dirs[i] != dir {
				leaked = append(leaked, dirs[i])
			}
			removeCgroup(dirs[i])
		}
	}
	return leaked
}

// removeCgroup kills the processes of the cgroup at dir and removes it
// (the kernel may take a moment to let go of a process that has just
// exited).
func removeCgroup(dir string) {
	for delay := 5 * time.Millisecond; delay < time.Second; delay *= 2 {
		b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if err := syscall.Rmdir(dir); err == nil || errors.Is(err, syscall.ENOENT) {
			return
		}
		time.Sleep(delay)
	}
}
