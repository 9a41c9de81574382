package task

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/wasmrun/wasmrun/internal/guests"
	"github.com/wasmrun/wasmrun/internal/initproc"
	"github.com/wasmrun/wasmrun/oci"
	"github.com/wasmrun/wasmrun/shim/bundlefile"
)

// TestMain lets the test binary serve as the container process.
func TestMain(m *testing.M) {
	if initproc.IsInit() {
		os.Exit(initproc.Main())
	}
	os.Exit(m.Run())
}

// testTask creates a real container from a bundle running the C guest
// args_env_exit with args, whose spec has a poststop hook writing the
// state it is given to the returned file, and wraps it in a task whose
// exit is watched as the service does.
func testTask(t *testing.T, args ...string) (tk *task, poststop string) {
	return newTestTask(t, taskOpts{guest: "args_env_exit", args: args})
}

// taskOpts shape the bundle of a test task.
type taskOpts struct {
	guest string   // the C guest at /app.wasm
	args  []string // its arguments
	// more are C guests in the root, by file name ("spin.wasm": "spin").
	more map[string]string
	// cgroup gives the container a cgroup of its own.
	cgroup bool
}

// newTestTask is testTask for o.
func newTestTask(t *testing.T, o taskOpts) (tk *task, poststop string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (the container process's privileges)")
	}
	bundle := t.TempDir()
	rootfs := filepath.Join(bundle, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"app.wasm": o.guest}
	for name, guest := range o.more {
		files[name] = guest
	}
	for name, guest := range files {
		wasm, err := os.ReadFile(guests.C(t, guest))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(rootfs, name), wasm, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	poststop = filepath.Join(t.TempDir(), "poststop.json")
	spec := &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: "rootfs"},
		Process: &specs.Process{Args: append([]string{"/app.wasm"}, o.args...), Cwd: "/"},
		Hooks:   &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > " + poststop}}}},
	}
	if o.cgroup {
		spec.Linux = &specs.Linux{CgroupsPath: testCgroup(t)}
	}
	b, _ := json.Marshal(spec)
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	id := "t1"
	rt := &oci.Runtime{Root: filepath.Join(bundle, bundlefile.OCIRoot), Init: self, Log: t.Logf}
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	c, err := rt.Create(context.Background(), id, bundle, oci.CreateOpts{Stdout: devnull, Stderr: devnull})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Delete(context.Background(), id, true) })
	tk = &task{id: id, bundle: bundle, rt: rt, wasm: rt, c: c, pid: c.Pid, done: make(chan struct{})}
	tk.state = &createdState{tk}
	go func() {
		code, _ := c.Wait(context.Background())
		tk.exited(Exit{Pid: c.Pid, Status: code, At: time.Now()}, func() {})
	}()
	return tk, poststop
}

// testCgroup is a cgroup path of its own for t's container; its parent is
// removed at the end (Delete removes the container's).
func testCgroup(t *testing.T) string {
	parent := fmt.Sprintf("wasmrun-test-shim-%d", os.Getpid())
	t.Cleanup(func() {
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + parent)
		for _, d := range dirs {
			os.Remove(d)
		}
	})
	return "/" + parent + "/" + strings.ReplaceAll(t.Name(), "/", "-")
}

func waitDone(t *testing.T, tk *task) {
	t.Helper()
	select {
	case <-tk.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the task's process did not exit")
	}
}

func wantStatus(t *testing.T, tk *task, want tasktypes.Status) Exit {
	t.Helper()
	got, exit := tk.status()
	if got != want {
		t.Fatalf("status %v, want %v", got, want)
	}
	return exit
}

// hookState reads the state a poststop hook was given ("" status: it did
// not run).
func hookState(t *testing.T, path string) specs.State {
	t.Helper()
	var st specs.State
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatalf("poststop hook got %q: %v", b, err)
		}
	}
	return st
}

// TestTaskLifecycle walks a task created -> running -> stopped -> deleted
// and checks that each state refuses what is illegal in it with the class
// containerd expects, and that Delete runs the poststop hooks.
func TestTaskLifecycle(t *testing.T) {
	tk, poststop := testTask(t, "7")
	ctx := context.Background()
	wantStatus(t, tk, tasktypes.Status_CREATED)
	if err := tk.start(ctx, func() {}); err != nil {
		t.Fatalf("start: %v", err)
	}
	// Whether still running or already stopped, a second Start is refused.
	if err := tk.start(ctx, func() {}); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Errorf("second start: %v, want FailedPrecondition", err)
	}
	waitDone(t, tk)
	if exit := wantStatus(t, tk, tasktypes.Status_STOPPED); exit.Status != 7 {
		t.Errorf("exit status %d, want 7", exit.Status)
	}
	if err := tk.kill(syscall.SIGTERM); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("kill of a stopped task: %v, want NotFound", err)
	}
	if err := tk.start(ctx, func() {}); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Errorf("start of a stopped task: %v, want FailedPrecondition", err)
	}
	if st := hookState(t, poststop); st.Status != "" {
		t.Fatalf("poststop ran before delete: %+v", st)
	}
	if err := tk.delete(ctx); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if st := hookState(t, poststop); st.ID != tk.id || st.Status != specs.StateStopped || st.Bundle != tk.bundle {
		t.Errorf("poststop hook got %+v, want id %s, status stopped, bundle %s", st, tk.id, tk.bundle)
	}
	if _, err := tk.wasm.State(tk.id); !errors.Is(err, oci.ErrNotFound) {
		t.Errorf("oci state after delete: %v, want not found", err)
	}
	for name, err := range map[string]error{"delete": tk.delete(ctx), "kill": tk.kill(syscall.SIGKILL), "start": tk.start(ctx, func() {})} {
		if !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("%s of a deleted task: %v, want NotFound", name, err)
		}
	}
}

// TestTaskDeleteRunning: a running task is not deleted (FailedPrecondition)
// and its process is left alone; killed, it stops and is deleted. (The
// state is set as Start leaves it, without letting the guest run, so that
// it cannot exit by itself meanwhile.)
func TestTaskDeleteRunning(t *testing.T) {
	tk, _ := testTask(t, "0")
	ctx := context.Background()
	tk.mu.Lock()
	tk.state = &runningState{tk}
	tk.mu.Unlock()
	if err := tk.delete(ctx); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("delete of a running task: %v, want FailedPrecondition", err)
	}
	if err := syscall.Kill(tk.pid, 0); err != nil {
		t.Fatalf("the refused delete touched the process: %v", err)
	}
	if err := tk.kill(syscall.SIGKILL); err != nil {
		t.Fatalf("kill: %v", err)
	}
	waitDone(t, tk)
	if exit := wantStatus(t, tk, tasktypes.Status_STOPPED); exit.Status != 128+9 {
		t.Errorf("exit status %d, want 137", exit.Status)
	}
	if err := tk.delete(ctx); err != nil {
		t.Fatalf("delete: %v", err)
	}
}

// TestTaskDeleteCreated: a task that never started is deleted at once: its
// process (waiting on the exec FIFO) is killed, its exit recorded, and it
// is removed with its poststop hooks.
func TestTaskDeleteCreated(t *testing.T) {
	tk, poststop := testTask(t, "0")
	if err := tk.delete(context.Background()); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if exit := wantStatus(t, tk, tasktypes.Status_STOPPED); exit.Status != 128+9 {
		t.Errorf("exit status %d, want 137 (killed)", exit.Status)
	}
	if st := hookState(t, poststop); st.Status != specs.StateStopped {
		t.Errorf("poststop hook did not run: %+v", st)
	}
	if err := syscall.Kill(tk.pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d still there: %v", tk.pid, err)
	}
}

// TestCleanupIsDelete: the delete action (a fresh process after the shim
// died) tears a task down the way Delete does: process killed, oci state
// gone, poststop hooks run; and it reports the recorded exit or 137.
func TestCleanupIsDelete(t *testing.T) {
	tk, poststop := testTask(t, "0")
	ex, err := Cleanup(context.Background(), tk.bundle, tk.id)
	if err != nil {
		t.Fatalf("cleanup: %v", err)
	}
	if ex.Status != 128+9 {
		t.Errorf("cleanup reports status %d, want 137 (no exit was recorded)", ex.Status)
	}
	waitDone(t, tk)
	if st := hookState(t, poststop); st.Status != specs.StateStopped || st.ID != tk.id {
		t.Errorf("poststop hook got %+v", st)
	}
	if _, err := tk.wasm.State(tk.id); !errors.Is(err, oci.ErrNotFound) {
		t.Errorf("oci state after cleanup: %v, want not found", err)
	}
}
