package task

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	taskapi "github.com/containerd/containerd/api/runtime/task/v3"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/anypb"
)

func execRequest(id string) *taskapi.ExecProcessRequest {
	return &taskapi.ExecProcessRequest{ID: "t1", ExecID: id}
}

func execSpec(args ...string) *specs.Process {
	return &specs.Process{Args: args, Cwd: "/", Env: []string{"FROM_EXEC=1"}}
}

// addTestExec adds an exec process to tk whose exit is watched as the
// service does.
func addTestExec(t *testing.T, tk *task, r *taskapi.ExecProcessRequest, proc *specs.Process) *execProcess {
	t.Helper()
	e, err := tk.addExec(context.Background(), r, proc)
	if err != nil {
		t.Fatal(err)
	}
	go e.watch(func(Exit) {})
	return e
}

func waitExec(t *testing.T, e *execProcess) Exit {
	t.Helper()
	select {
	case <-e.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("exec process %s did not exit", e.id)
	}
	st, exit := e.status()
	if st != tasktypes.Status_STOPPED {
		t.Fatalf("exec process %s exited, status %v", e.id, st)
	}
	return exit
}

// TestExecLifecycle walks an exec process created -> running -> stopped
// -> deleted, with its output (to a file:// URI) and exit status, and
// each state's refusals; a second process of the same id is refused
// while the first exists; a created one is deleted by killing it.
func TestExecLifecycle(t *testing.T) {
	tk, _ := newTestTask(t, taskOpts{guest: "spin", more: map[string]string{"args.wasm": "args_env_exit"}})
	ctx := context.Background()
	if err := tk.start(ctx, func() {}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.log")
	r := execRequest("a")
	r.Stdout = "file://" + out
	e := addTestExec(t, tk, r, execSpec("/args.wasm", "3", "x"))
	if st, _ := e.status(); st != tasktypes.Status_CREATED || e.pid <= 0 {
		t.Fatalf("new exec process: status %v pid %d", st, e.pid)
	}
	if _, err := tk.addExec(ctx, execRequest("a"), execSpec("/args.wasm")); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("second exec process a: %v, want AlreadyExists", err)
	}
	if pids := tk.pids(); len(pids) != 2 || pids[1].Pid != uint32(e.pid) || pids[1].Info == nil {
		t.Errorf("pids %v, want the task's and exec process %d with its details", pids, e.pid)
	}
	started := 0
	if err := e.start(ctx, func() { started++ }); err != nil {
		t.Fatal(err)
	}
	if exit := waitExec(t, e); exit.Status != 3 || exit.Pid != e.pid {
		t.Errorf("exit %+v, want status 3 of pid %d", exit, e.pid)
	}
	b, _ := os.ReadFile(out)
	if !strings.Contains(string(b), "arg 2 [x]\n") || !strings.Contains(string(b), "env [FROM_EXEC=1]\n") {
		t.Errorf("exec output:\n%s", b)
	}
	if err := e.kill(syscall.SIGKILL); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("kill of a stopped exec process: %v, want NotFound", err)
	}
	if err := e.start(ctx, func() {}); !errors.Is(err, errdefs.ErrFailedPrecondition) || started != 1 {
		t.Errorf("start of a stopped exec process: %v, want FailedPrecondition", err)
	}
	if err := e.delete(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := tk.getExec("a"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("deleted exec process: %v, want NotFound", err)
	}
	if err := e.delete(ctx); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("second delete: %v, want NotFound", err)
	}

	// Created, never started: deleted by killing it.
	c := addTestExec(t, tk, execRequest("c"), execSpec("/args.wasm"))
	if err := c.delete(ctx); err != nil {
		t.Fatal(err)
	}
	if _, exit := c.status(); exit.Status != 137 {
		t.Errorf("deleted created exec process: exit %d, want 137", exit.Status)
	}

	// Running: killed, and only deleted once stopped.
	s := addTestExec(t, tk, execRequest("s"), execSpec("/app.wasm"))
	if err := s.start(ctx, func() {}); err != nil {
		t.Fatal(err)
	}
	if err := s.delete(ctx); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Errorf("delete of a running exec process: %v, want FailedPrecondition", err)
	}
	if err := s.kill(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if exit := waitExec(t, s); exit.Status != 143 {
		t.Errorf("killed exec process: exit %d, want 143", exit.Status)
	}
	if err := s.delete(ctx); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, tk, tasktypes.Status_RUNNING)
	tk.kill(syscall.SIGKILL)
	waitDone(t, tk)
	if err := tk.delete(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestExecDiesWithTask: the task's exit kills its exec processes, running
// and created; a stopped task refuses new ones; its delete waits until
// they are gone.
func TestExecDiesWithTask(t *testing.T) {
	tk, _ := newTestTask(t, taskOpts{guest: "spin"})
	ctx := context.Background()
	if err := tk.start(ctx, func() {}); err != nil {
		t.Fatal(err)
	}
	running := addTestExec(t, tk, execRequest("r"), execSpec("/app.wasm"))
	if err := running.start(ctx, func() {}); err != nil {
		t.Fatal(err)
	}
	created := addTestExec(t, tk, execRequest("c"), execSpec("/app.wasm"))
	if err := tk.kill(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitDone(t, tk)
	for _, e := range []*execProcess{running, created} {
		if exit := waitExec(t, e); exit.Status != 137 {
			t.Errorf("exec process %s: exit %d, want 137", e.id, exit.Status)
		}
	}
	if _, err := tk.addExec(ctx, execRequest("late"), execSpec("/app.wasm")); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Errorf("exec in a stopped task: %v, want FailedPrecondition", err)
	}
	if err := tk.delete(ctx); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int{running.pid, created.pid} {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("exec process %d still there: %v", pid, err)
		}
	}
}

// TestExecRefused: Exec requests the shim cannot serve are refused with
// the class containerd shows, before anything is made: no exec id, a spec that is not a process or has no args, an
// unknown task; and requests naming an exec process that does not exist.
func TestExecRefused(t *testing.T) {
	s, _ := newTestService(t)
	ctx := context.Background()
	spec := func(v string) *anypb.Any {
		return &anypb.Any{TypeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Process", Value: []byte(v)}
	}
	for _, tc := range []struct {
		name string
		r    *taskapi.ExecProcessRequest
		want codes.Code
	}{
		{"no exec id", &taskapi.ExecProcessRequest{ID: "t", Spec: spec(`{"args":["/a.wasm"]}`)}, codes.InvalidArgument},
		{"bad spec", &taskapi.ExecProcessRequest{ID: "t", ExecID: "e", Spec: spec(`[`)}, codes.InvalidArgument},
		{"no args", &taskapi.ExecProcessRequest{ID: "t", ExecID: "e", Spec: spec(`{"args":[]}`)}, codes.InvalidArgument},
		{"no task", &taskapi.ExecProcessRequest{ID: "t", ExecID: "e", Spec: spec(`{"args":["/a.wasm"]}`)}, codes.NotFound},
	} {
		if _, err := s.Exec(ctx, tc.r); grpcCode(err) != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := s.Kill(ctx, &taskapi.KillRequest{ID: "t", ExecID: "e", Signal: 9}); grpcCode(err) != codes.NotFound {
		t.Errorf("kill of an unknown exec process: %v, want NotFound", err)
	}
	if _, err := s.State(ctx, &taskapi.StateRequest{ID: "t", ExecID: "e"}); grpcCode(err) != codes.NotFound {
		t.Errorf("state of an unknown exec process: %v, want NotFound", err)
	}
	if _, err := s.ResizePty(ctx, &taskapi.ResizePtyRequest{ID: "t", ExecID: "e", Width: 80, Height: 25}); grpcCode(err) != codes.NotFound {
		t.Errorf("resize of an unknown exec process: %v, want NotFound", err)
	}
}
