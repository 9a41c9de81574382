package task

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/errdefs"
)

// progresses reports whether pid uses CPU time within 300ms (the spin
// guest takes about 30 ticks).
func progresses(t *testing.T, pid int) bool {
	t.Helper()
	ticks := func() int64 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		u, _ := strconv.ParseInt(f[11], 10, 64)
		k, _ := strconv.ParseInt(f[12], 10, 64)
		return u + k
	}
	before := ticks()
	time.Sleep(300 * time.Millisecond)
	return ticks()-before > 2
}

// TestTaskPause walks created -> running -> paused -> running -> paused
// and ends a paused task with SIGTERM: each state refuses what is illegal
// in it (a created task is not paused, a paused one neither started,
// deleted, paused again nor given an exec process), a paused guest uses
// no CPU, and the kill thaws it so that it ends (143).
func TestTaskPause(t *testing.T) {
	tk, _ := newTestTask(t, taskOpts{guest: "spin", cgroup: true, more: map[string]string{"args.wasm": "args_env_exit"}})
	ctx := context.Background()
	for name, err := range map[string]error{"pause": tk.pause(func() {}), "resume": tk.resume(func() {})} {
		if !errors.Is(err, errdefs.ErrFailedPrecondition) {
			t.Errorf("%s of a created task: %v, want FailedPrecondition", name, err)
		}
	}
	if err := tk.start(ctx, func() {}); err != nil {
		t.Fatal(err)
	}
	if err := tk.resume(func() {}); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Errorf("resume of a running task: %v, want FailedPrecondition", err)
	}
	paused := 0
	if err := tk.pause(func() { paused++ }); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, tk, tasktypes.Status_PAUSED)
	if paused != 1 {
		t.Errorf("pause ran its event %d times", paused)
	}
	if progresses(t, tk.pid) {
		t.Error("the paused guest uses CPU")
	}
	_, err := tk.addExec(ctx, execRequest("e1"), execSpec("/args.wasm"))
	for name, err := range map[string]error{
		"pause": tk.pause(func() {}), "start": tk.start(ctx, func() {}), "delete": tk.delete(ctx), "exec": err,
	} {
		if !errors.Is(err, errdefs.ErrFailedPrecondition) {
			t.Errorf("%s of a paused task: %v, want FailedPrecondition", name, err)
		}
	}
	wantStatus(t, tk, tasktypes.Status_PAUSED)
	if err := tk.resume(func() {}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, tk, tasktypes.Status_RUNNING)
	if !progresses(t, tk.pid) {
		t.Error("the resumed guest does not run")
	}

	if err := tk.pause(func() {}); err != nil {
		t.Fatal(err)
	}
	if err := tk.kill(syscall.SIGTERM); err != nil {
		t.Fatalf("kill of a paused task: %v", err)
	}
	waitDone(t, tk)
	if exit := wantStatus(t, tk, tasktypes.Status_STOPPED); exit.Status != 128+15 {
		t.Errorf("exit status %d, want 143", exit.Status)
	}
	if err := tk.delete(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestTaskPauseNonTerminating: a signal that does not end a process
// (SIGCONT) leaves a paused task paused.
func TestTaskPauseNonTerminating(t *testing.T) {
	tk, _ := newTestTask(t, taskOpts{guest: "spin", cgroup: true})
	if err := tk.start(context.Background(), func() {}); err != nil {
		t.Fatal(err)
	}
	if err := tk.pause(func() {}); err != nil {
		t.Fatal(err)
	}
	if err := tk.kill(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, tk, tasktypes.Status_PAUSED)
	if progresses(t, tk.pid) {
		t.Error("SIGCONT thawed the paused guest")
	}
	if err := tk.kill(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitDone(t, tk)
	if exit := wantStatus(t, tk, tasktypes.Status_STOPPED); exit.Status != 137 {
		t.Errorf("exit status %d, want 137", exit.Status)
	}
}

// TestTaskPauseWithoutCgroup: a task without a cgroup is not paused, with
// an error that says why, and stays running.
func TestTaskPauseWithoutCgroup(t *testing.T) {
	tk, _ := newTestTask(t, taskOpts{guest: "spin"})
	if err := tk.start(context.Background(), func() {}); err != nil {
		t.Fatal(err)
	}
	err := tk.pause(func() { t.Error("a failed pause ran its event") })
	if !errors.Is(err, errdefs.ErrFailedPrecondition) || !strings.Contains(err.Error(), "no cgroup") {
		t.Errorf("pause without a cgroup: %v, want FailedPrecondition saying there is no cgroup", err)
	}
	wantStatus(t, tk, tasktypes.Status_RUNNING)
	tk.kill(syscall.SIGKILL)
	waitDone(t, tk)
}

// TestCleanupPaused: the delete action removes a paused task whose
// process got its SIGKILL while frozen (as when the shim dies: the death
// signal), which on cgroup v1 it acts on only once thawed.
func TestCleanupPaused(t *testing.T) {
	tk, poststop := newTestTask(t, taskOpts{guest: "spin", cgroup: true})
	if err := tk.start(context.Background(), func() {}); err != nil {
		t.Fatal(err)
	}
	if err := tk.pause(func() {}); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(tk.pid, syscall.SIGKILL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := Cleanup(ctx, tk.bundle, tk.id); err != nil {
		t.Fatalf("cleanup: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("cleanup waited for the frozen process until its deadline")
	}
	waitDone(t, tk)
	if st := hookState(t, poststop); st.ID != tk.id {
		t.Errorf("poststop hook got %+v", st)
	}
}
