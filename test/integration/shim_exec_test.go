package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/guests"
	"github.com/wasmrun/wasmrun/internal/testdaemon"
)

// execRootfs is a container root with the sockhttp server as /app.wasm
// and the C guests args_env_exit and spin as /args.wasm and /spin.wasm.
func execRootfs(t *testing.T) string {
	t.Helper()
	dir := rootfsWith(t, guests.Go(t, "sockhttp"))
	for name, guest := range map[string]string{"args.wasm": "args_env_exit", "spin.wasm": "spin"} {
		b, err := os.ReadFile(guests.C(t, guest))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name), string(b))
	}
	b, err := os.ReadFile(guests.Go(t, "netapp"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "netapp.wasm"), string(b))
	return dir
}

// TestShimExec runs `ctr task exec` in a running wasm server container
// under each containerd release: a C guest that prints its args and the
// container's env and exits with a code (ctr exits with it); the server's
// own module as an HTTP client of the server on the container's
// 127.0.0.1 (the exec process is in its namespace); a long-running one
// killed by exec id, listed by `ctr task ps` until then; a detached one
// that delete refuses while it runs and removes once killed; refusal in a
// paused task; and the task's exit ending an exec process still running.
func TestShimExec(t *testing.T) {
	needRootShim(t)
	rootfs := execRootfs(t)
	for _, v := range shimDaemons {
		t.Run(v.name, func(t *testing.T) {
			d := startShimDaemon(t, v.bin(t))
			testShimExec(t, d, rootfs)
		})
	}
}

func testShimExec(t *testing.T, d *testdaemon.Daemon, rootfs string) {
	id := newID("exec")
	pid := startHTTPTask(t, d, rootfs, id, []string{"--env", "GREETING=from-container"})
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()

	t.Run("args_env_exit", func(t *testing.T) {
		out, stderr, err := d.Ctr(ctx, "task", "exec", "--exec-id", "args", id, "/args.wasm", "7", "two words")
		if code, _ := unwrapExit(err); code != 7 {
			t.Fatalf("ctr task exec: %v, want exit status 7\n%s", err, stderr)
		}
		for _, want := range []string{"arg 0 [/args.wasm]", "arg 1 [7]", "arg 2 [two words]", "lookup GREETING [from-container]", "env [PWD=/]"} {
			if !strings.Contains(out, want+"\n") {
				t.Errorf("exec output lacks %q:\n%s", want, out)
			}
		}
		if !strings.Contains(stderr, "to stderr") {
			t.Errorf("exec stderr lacks the guest's line:\n%s", stderr)
		}
	})

	t.Run("in_the_namespace", func(t *testing.T) {
		out := d.MustCtr(t, "task", "exec", "--exec-id", "get", id, "/app.wasm", "get", "http://127.0.0.1:8080/from-exec")
		if !strings.Contains(out, "status 200\n") || !strings.Contains(out, "body hello /from-exec\n") {
			t.Errorf("exec'd client of the server on the container's 127.0.0.1:\n%s", out)
		}
	})

	// The container reaches the outside through host sockets its shim
	// serves (outbound): an exec process gets its own, with the same
	// limits: the outside yes, the host itself no.
	t.Run("outbound", func(t *testing.T) {
		out := newOutsideHost(t, newOSEnv(t))
		addr := net.JoinHostPort(out.addr, fmt.Sprint(out.port))
		if stdout := d.MustCtr(t, "task", "exec", "--exec-id", "dial", id, "/netapp.wasm", "dial", addr); strings.TrimSpace(stdout) != "connected" || out.accepted.Load() != 1 {
			t.Errorf("exec'd client dialing the outside %s: %q, %d accepted", addr, stdout, out.accepted.Load())
		}
		srv := newHostListenerAll(t)
		_, port, _ := net.SplitHostPort(srv.addr)
		if stdout, _, err := d.Ctr(ctx, "task", "exec", "--exec-id", "dialhost", id, "/netapp.wasm", "dial", net.JoinHostPort(out.hostAddr, port)); err == nil {
			t.Errorf("exec'd client reached the host's %s:%s: %q", out.hostAddr, port, stdout)
		}
		srv.notReached(t)
	})

	t.Run("kill", func(t *testing.T) {
		cmd := d.CtrCommand(ctx, "task", "exec", "--exec-id", "spin", id, "/spin.wasm", "announce")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if l, err := bufio.NewReader(stdout).ReadString('\n'); l != "spinning\n" {
			t.Fatalf("exec'd spin said %q, %v", l, err)
		}
		spin := execPid(t, d, id, "spin")
		if ppid(t, spin) != ppid(t, pid) {
			t.Errorf("exec process %d is not a child of the task's shim", spin)
		}
		d.MustCtr(t, "task", "kill", "--exec-id", "spin", "-s", "SIGKILL", id)
		err = cmd.Wait()
		if code, _ := unwrapExit(err); code != 137 {
			t.Errorf("ctr task exec of a killed process: %v, want exit status 137", err)
		}
		waitPidGone(t, spin)
		if ps := d.MustCtr(t, "task", "ps", id); strings.Contains(ps, "spin") {
			t.Errorf("ctr task ps still lists the killed exec process:\n%s", ps)
		}
	})

	t.Run("detached_delete", func(t *testing.T) {
		d.MustCtr(t, "task", "exec", "--detach", "--exec-id", "det", id, "/spin.wasm")
		det := execPid(t, d, id, "det")
		if _, _, err := d.Ctr(ctx, "task", "delete", "--exec-id", "det", id); err == nil || !strings.Contains(err.Error(), "running") {
			t.Errorf("delete of a running exec process: %v, want refused as running", err)
		}
		d.MustCtr(t, "task", "kill", "--exec-id", "det", id)
		waitPidGone(t, det)
		// Deleted, it reports its exit status (ctr exits with it): 143.
		var err error
		if !waitUntil(10*time.Second, 20*time.Millisecond, func() bool {
			_, _, err = d.Ctr(ctx, "task", "delete", "--exec-id", "det", id)
			return err == nil || !strings.Contains(err.Error(), "must be stopped") // not stopped yet
		}) || !strings.Contains(fmt.Sprint(err), "exit status 143") {
			t.Fatalf("delete of the killed exec process: %v, want exit status 143", err)
		}
		if _, _, err := d.Ctr(ctx, "task", "kill", "--exec-id", "det", id); err == nil {
			t.Error("kill of a deleted exec process succeeded")
		}
	})

	t.Run("paused", func(t *testing.T) {
		d.MustCtr(t, "task", "pause", id)
		_, stderr, err := d.Ctr(ctx, "task", "exec", "--exec-id", "late", id, "/args.wasm")
		d.MustCtr(t, "task", "resume", id)
		if err == nil || !strings.Contains(stderr, "paused") {
			t.Errorf("exec in a paused task: %v\n%s", err, stderr)
		}
	})

	t.Run("module_outside_root", func(t *testing.T) {
		// A symlink in the image that names a module of the host: it is
		// resolved inside the root, where there is none.
		host := filepath.Join(t.TempDir(), "host.wasm")
		writeFile(t, host, readFile(t, filepath.Join(rootfs, "args.wasm")))
		link := filepath.Join(rootfs, "escape.wasm")
		if err := os.Symlink(host, link); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(link)
		for _, path := range []string{"/escape.wasm", "/../../../../" + strings.TrimPrefix(host, "/")} {
			_, stderr, err := d.Ctr(ctx, "task", "exec", "--exec-id", "escape", id, path, "0")
			if err == nil || !strings.Contains(stderr, "not found in the container root") {
				t.Errorf("exec of %s (the host's %s): %v\n%s", path, host, err, stderr)
			}
		}
	})

	// An exec process does not outlive its task.
	d.MustCtr(t, "task", "exec", "--detach", "--exec-id", "last", id, "/spin.wasm")
	last := execPid(t, d, id, "last")
	killTask(t, d, id, pid)
	waitPidGone(t, last)
}

// TestShimExecPrivileges: an exec process is the container's process as
// far as the kernel can tell: the same user and groups (2.x's ctr has
// --user), capability sets (ctr --cap-drop), no_new_privs, seccomp mode
// and cgroups, and the container's network namespace; and, as the task's
// process, a mount namespace of its own where the container's read-only
// bind mount is read-only, and a root of its own without the host's files.
func TestShimExecPrivileges(t *testing.T) {
	needRootShim(t)
	// Readable by the container's user.
	rootfs := readableApp(t, map[string]string{"app.wasm": guests.Go(t, "sockhttp"), "spin.wasm": guests.C(t, "spin")})
	for _, v := range shimDaemons {
		t.Run(v.name, func(t *testing.T) {
			d := startShimDaemon(t, v.bin(t))
			// A read-only bind mount: the container process makes it
			// read-only in a mount namespace of its own.
			ro := readableApp(t, nil)
			flags := []string{"--cap-drop", "CAP_DAC_OVERRIDE", "--cap-drop", "CAP_NET_RAW", "--mount", "type=bind,src=" + ro + ",dst=/data,options=rbind:ro"}
			if d.Bin.ConfigVersion >= 3 {
				flags = append(flags, "--user", "4321:4322")
			}
			id := newID("execpriv")
			pid := startHTTPTask(t, d, rootfs, id, flags)
			d.MustCtr(t, "task", "exec", "--detach", "--exec-id", "priv", id, "/spin.wasm")
			epid := execPid(t, d, id, "priv")
			task, exec := procStatus(t, pid), procStatus(t, epid)
			for _, k := range []string{"Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"} {
				if task[k] != exec[k] {
					t.Errorf("%s: the exec process has %q, the task %q", k, exec[k], task[k])
				}
			}
			if d.Bin.ConfigVersion >= 3 && !strings.HasPrefix(exec["Uid"], "4321 ") {
				t.Errorf("the exec process's uid: %q, want 4321", exec["Uid"])
			}
			if cg, want := readFile(t, fmt.Sprintf("/proc/%d/cgroup", epid)), readFile(t, fmt.Sprintf("/proc/%d/cgroup", pid)); cg != want {
				t.Errorf("the exec process's cgroups:\n%s\nthe task's:\n%s", cg, want)
			}
			if nsInode(t, fmt.Sprintf("/proc/%d/ns/net", epid)) != nsInode(t, fmt.Sprintf("/proc/%d/ns/net", pid)) {
				t.Error("the exec process is not in the task's network namespace")
			}
			for _, p := range []int{pid, epid} {
				if nsInode(t, fmt.Sprintf("/proc/%d/ns/mnt", p)) == nsInode(t, "/proc/self/ns/mnt") {
					t.Errorf("process %d (of task %d) is in the host's mount namespace", p, pid)
				}
				if mi := readFile(t, fmt.Sprintf("/proc/%d/mountinfo", p)); !regexp.MustCompile(" " + regexp.QuoteMeta(ro) + " ro[, ]").MatchString(mi) {
					t.Errorf("process %d (of task %d) does not have %s read-only:\n%s", p, pid, ro, mi)
				}
				// A root of its own (see TestOSPrivateRoot).
				if _, err := os.Lstat(fmt.Sprintf("/proc/%d/root/etc/passwd", p)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("process %d (of task %d) sees the host's /etc/passwd (%v)", p, pid, err)
				}
			}
			killTask(t, d, id, pid)
			waitPidGone(t, epid)
		})
	}
}

// execPid returns the pid of exec process execID of task id from `ctr
// task ps` (whose INFO column names exec ids).
func execPid(t *testing.T, d *testdaemon.Daemon, id, execID string) int {
	t.Helper()
	var ps string
	var pid int
	waitUntil(10*time.Second, 20*time.Millisecond, func() bool {
		ps = d.MustCtr(t, "task", "ps", id)
		for _, l := range lines(ps) {
			if f := strings.Fields(l); len(f) > 1 && strings.Contains(l, execID) {
				pid, _ = strconv.Atoi(f[0])
				return pid > 0
			}
		}
		return false
	})
	if pid == 0 {
		t.Fatalf("ctr task ps does not list exec process %s:\n%s", execID, ps)
	}
	return pid
}

// TestShimExecCRI: crictl exec, synchronous (ExecSync) and streamed (the
// CRI streaming server on loopback), runs a wasm module of the image in a
// running wasm container of a pod: its output and exit status come back,
// and the exec'd client reaches the server on the pod's 127.0.0.1.
func TestShimExecCRI(t *testing.T) {
	needRootShim(t)
	server, err := os.ReadFile(guests.Go(t, "sockhttp"))
	if err != nil {
		t.Fatal(err)
	}
	args, err := os.ReadFile(guests.C(t, "args_env_exit"))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range shimDaemons {
		t.Run(v.name, func(t *testing.T) {
			e := startCRI(t, v.bin(t), 240+i)
			ref := "docker.io/wasmrun/exec:test"
			e.d.ImportImage(t, testdaemon.CRINamespace, ref, []testdaemon.ImageFile{
				{Name: "app.wasm", Mode: 0o755, Data: server}, {Name: "args.wasm", Mode: 0o755, Data: args},
			}, []string{"/app.wasm"}, nil, nil)
			p := e.runPod(t, "exec")
			c := e.container(t, p, "server", 0, ref, []string{"serve", "127.0.0.1:8080"}, map[string]string{"GREETING": "cri"})
			e.waitLog(t, c, "listening 8080\n")

			ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
			defer cancel()
			// crictl prints the output of a command that succeeded, and the
			// exit status of one that failed.
			out, stderr, err := e.d.Crictl(ctx, e.crictlBin, "exec", "-s", c, "/args.wasm", "0", "sync")
			if err != nil || !strings.Contains(out, "arg 2 [sync]\n") || !strings.Contains(out, "lookup GREETING [cri]\n") {
				t.Errorf("crictl exec -s: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr)
			}
			if _, stderr, err := e.d.Crictl(ctx, e.crictlBin, "exec", "-s", c, "/args.wasm", "4"); err == nil || !strings.Contains(stderr, "exited with 4") {
				t.Errorf("crictl exec -s of a command exiting 4: %v\n%s", err, stderr)
			}
			out, stderr, err = e.d.Crictl(ctx, e.crictlBin, "exec", c, "/app.wasm", "get", "http://127.0.0.1:8080/from-crictl")
			if err != nil || !strings.Contains(out, "body hello /from-crictl\n") {
				t.Errorf("crictl exec (streamed): %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr)
			}
			out, stderr, err = e.d.Crictl(ctx, e.crictlBin, "exec", c, "/args.wasm", "3", "streamed")
			if err == nil || !strings.Contains(out, "arg 2 [streamed]\n") || !strings.Contains(stderr, "exit code 3") {
				t.Errorf("crictl exec (streamed) of a command exiting 3: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr)
			}
			e.crictl(t, "stopp", p.id)
			e.crictl(t, "rmp", p.id)
			e.checkNoLeaks(t, p.id, c)
		})
	}
}
