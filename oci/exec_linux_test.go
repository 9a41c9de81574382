package oci

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// execBundle is a bundle whose read-only root holds app.wasm (a TCP echo
// server), args.wasm, spin.wasm and tamper.wasm, with a namespace and a
// cgroup of its own.
func execBundle(t *testing.T) (b, cg string) {
	t.Helper()
	b = bundle(t, guests.C(t, "sock_echo", "-DSHAPE_V2"), []string{"tcp-server", "127.0.0.1", "1000"}, true)
	for name, guest := range map[string]string{"args": "args_env_exit", "spin": "spin", "tamper": "tamper"} {
		if err := os.WriteFile(filepath.Join(b, "rootfs", name+".wasm"), mustRead(t, guests.C(t, guest)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cg = testCgroup(t, "exec")
	withSpec(t, b, func(s *specs.Spec) {
		s.Root.Readonly = true
		s.Process.Env = append(s.Process.Env, "FROM_CONTAINER=1")
		s.Linux.CgroupsPath = cg
	})
	return b, cg
}

// execOut runs exec process execID of container id with args and env, and
// returns its stdout and exit status.
func execOut(t *testing.T, rt *Runtime, id, execID string, env []string, args ...string) (*Process, string, int) {
	t.Helper()
	r, w, _ := os.Pipe()
	defer r.Close()
	p, err := rt.Exec(context.Background(), id, execID, &specs.Process{Args: args, Env: env, Cwd: "/"}, ExecOpts{Stdout: w})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(r)
	code := waitCode(t, p.c)
	if err := p.Delete(context.Background()); err != nil {
		t.Errorf("delete exec process: %v", err)
	}
	return p, string(out), code
}

// TestExec runs exec processes in a running container: with the
// container's environment under its own, its exit status, in the
// container's network namespace (it reaches the guest's server on the
// namespace's 127.0.0.1) and cgroup, under the container's read-only root
// (a write fails and the host file is unchanged); a spinning one is
// killed; a module outside the root is refused.
func TestExec(t *testing.T) {
	needRoot(t)
	rt := testRuntime(t)
	b, cg := execBundle(t)
	r, w, _ := os.Pipe()
	defer r.Close()
	c, err := rt.Create(context.Background(), "ex", b, CreateOpts{Stdout: w})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(context.Background(), "ex"); err != nil {
		t.Fatal(err)
	}
	port := strings.TrimPrefix(waitLine(t, bufio.NewReader(r), "listening "), "listening ")

	t.Run("args_env_exit", func(t *testing.T) {
		_, out, code := execOut(t, rt, "ex", "args", []string{"GREETING=exec", "EXTRA=2"}, "/args.wasm", "5", "two words")
		if code != 5 {
			t.Errorf("exit status %d, want 5", code)
		}
		for _, want := range []string{"arg 0 [/args.wasm]", "arg 2 [two words]", "env [FROM_CONTAINER=1]", "env [EXTRA=2]", "lookup GREETING [exec]", "env [PWD=/]"} {
			if !strings.Contains(out, want+"\n") {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "GREETING=hi") {
			t.Errorf("the container's GREETING is not overridden:\n%s", out)
		}
	})

	t.Run("namespace_and_cgroup", func(t *testing.T) {
		p, err := rt.Exec(context.Background(), "ex", "client", &specs.Process{Args: []string{"/app.wasm", "tcp-client", "127.0.0.1", port, "hello"}, Cwd: "/"}, ExecOpts{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := inode(t, fmt.Sprintf("/proc/%d/ns/net", p.Pid)), inode(t, fmt.Sprintf("/proc/%d/ns/net", c.Pid)); got != want {
			t.Errorf("exec process in namespace %d, the container's is %d", got, want)
		}
		if procs := string(mustRead(t, "/sys/fs/cgroup/memory"+cg+"/cgroup.procs")); !slices.Contains(strings.Fields(procs), fmt.Sprint(p.Pid)) {
			t.Errorf("exec process %d not in the container's cgroup (%s has %q)", p.Pid, cg, procs)
		}
		mnt := fmt.Sprintf("/proc/%d/ns/mnt", p.Pid)
		if inode(t, mnt) == inode(t, "/proc/self/ns/mnt") {
			t.Error("exec process in the host's mount namespace: the root is not read-only for the kernel")
		}
		p.Delete(context.Background())

		_, out, code := execOut(t, rt, "ex", "client2", nil, "/app.wasm", "tcp-client", "127.0.0.1", port, "hello")
		if code != 0 || !strings.Contains(out, "got hello") {
			t.Errorf("client in the container's namespace: exit %d, output %q", code, out)
		}
	})

	t.Run("read_only_root", func(t *testing.T) {
		before := mustRead(t, filepath.Join(b, "rootfs", "args.wasm"))
		_, out, _ := execOut(t, rt, "ex", "tamper", nil, "/tamper.wasm", "write", "/args.wasm", "create", "/new", "read", "/args.wasm")
		if !strings.Contains(out, "read /args.wasm ok") || strings.Contains(out, "write /args.wasm ok") || strings.Contains(out, "create /new ok") {
			t.Errorf("tamper in a read-only root:\n%s", out)
		}
		if after := mustRead(t, filepath.Join(b, "rootfs", "args.wasm")); string(after) != string(before) {
			t.Error("the exec process changed a file of the read-only root")
		}
		if _, err := os.Stat(filepath.Join(b, "rootfs", "new")); err == nil {
			t.Error("the exec process created a file in the read-only root")
		}
	})

	t.Run("kill", func(t *testing.T) {
		p, err := rt.Exec(context.Background(), "ex", "spin", &specs.Process{Args: []string{"/spin.wasm"}, Cwd: "/"}, ExecOpts{})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := p.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := waitCode(t, p.c); code != 128+15 {
			t.Errorf("exit status %d, want 143", code)
		}
		if err := p.Signal(syscall.SIGKILL); err != nil {
			t.Errorf("signal of an exited exec process: %v", err)
		}
		p.Delete(context.Background())
	})

	t.Run("refused", func(t *testing.T) {
		for _, tc := range []struct {
			execID string
			args   []string
			want   string
		}{
			{"out", []string{"/../../" + filepath.Base(b) + "/config.json"}, "not found in the container root"},
			{"missing", []string{"/missing.wasm"}, "not found in the container root"},
			{"bad/id", []string{"/args.wasm"}, "invalid container id"},
		} {
			if _, err := rt.Exec(context.Background(), "ex", tc.execID, &specs.Process{Args: tc.args, Cwd: "/"}, ExecOpts{}); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("exec %s %v: %v, want %q", tc.execID, tc.args, err, tc.want)
			}
		}
		if _, err := rt.Exec(context.Background(), "nothere", "x", &specs.Process{Args: []string{"/args.wasm"}}, ExecOpts{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("exec in a missing container: %v", err)
		}
	})

	rt.Kill("ex", syscall.SIGKILL)
	waitCode(t, c)
	if _, err := rt.Exec(context.Background(), "ex", "late", &specs.Process{Args: []string{"/args.wasm"}, Cwd: "/"}, ExecOpts{}); !errors.Is(err, ErrFailedPrecondition) {
		t.Errorf("exec in a stopped container: %v, want a failed precondition", err)
	}
	if err := rt.Delete(context.Background(), "ex", false); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(rt.Root); len(ents) != 0 {
		t.Errorf("state left: %v", ents)
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"A=1", "B=2", "C"}, []string{"B=3", "D=4", "A=5"})
	want := []string{"A=5", "B=3", "C", "D=4"}
	if !slices.Equal(got, want) {
		t.Errorf("mergeEnv: %q, want %q", got, want)
	}
}
