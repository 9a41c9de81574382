package task

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/containerd/console"
	taskapi "github.com/containerd/containerd/api/runtime/task/v3"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/wasmrun/wasmrun/oci"
	"github.com/wasmrun/wasmrun/shim/native"
)

// execProcess is an exec process of a task (ctr task exec, CRI exec):
// another module run in the task's container by oci.Runtime.Exec, in its
// namespace, cgroup and filesystem view. Its state is guarded by its
// task's mu, like the task's own, and moves along
//
//	created --start--> running --exited--> stopped --delete--> deleted
//	created --exited (killed before Start)--> stopped
//
// Created, its process has compiled and instantiated the module and waits
// on its exec FIFO, as a created task's does; it is deleted by killing it
// first. Exec processes are added and started while the task is created
// or running (not paused: a process added to a frozen cgroup would freeze
// before reporting ready), and die with the task. A kill of an exec
// process of a paused task acts when the task is resumed (thawing it
// alone would thaw the whole container).
type execProcess struct {
	id  string // exec id
	t   *task
	p   process
	pid int // a native one's once started
	req *taskapi.ExecProcessRequest
	io  *stdio

	state processState
	exit  Exit
	done  chan struct{} // closed once exit is set
}

// addExec creates exec process r.ExecID running proc. The process is
// made outside mu (compiling a module may take seconds, and the task must
// stay killable meanwhile): the id is reserved in t.adding, whose cancel
// the task's exit calls, and counted in t.execsWG from then on.
func (t *task) addExec(ctx context.Context, r *taskapi.ExecProcessRequest, proc *specs.Process) (e *execProcess, retErr error) {
	if err := oci.ValidateID(r.ExecID); err != nil {
		return nil, fmt.Errorf("exec id: %w: %w", err, errdefs.ErrInvalidArgument)
	}
	t.mu.Lock()
	err := t.state.exec()
	if err == nil && (t.execs[r.ExecID] != nil || t.adding[r.ExecID] != nil) {
		err = fmt.Errorf("exec process %s of task %s: %w", r.ExecID, t.id, errdefs.ErrAlreadyExists)
	}
	if err != nil {
		t.mu.Unlock()
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if t.adding == nil {
		t.adding = map[string]context.CancelFunc{}
	}
	t.adding[r.ExecID] = cancel
	t.execsWG.Add(1) // Done by watch, or below on failure
	t.mu.Unlock()
	defer func() {
		if retErr != nil {
			t.mu.Lock()
			delete(t.adding, r.ExecID)
			t.mu.Unlock()
			t.execsWG.Done()
		}
	}()

	_, isNative := t.rt.(*native.Runtime)
	sio, err := openTaskStdio(t.id, t.ns, isNative, r.Terminal, r.Stdin, r.Stdout, r.Stderr)
	if err != nil {
		return nil, err
	}
	p, err := t.newProcess(ctx, r, proc, sio)
	sio.closeChildEnds()
	if err != nil {
		sio.close()
		if ctx.Err() != nil && t.hasExited() {
			return nil, fmt.Errorf("exec in task %s: the task exited: %w", t.id, errdefs.ErrFailedPrecondition)
		}
		return nil, classify(err)
	}
	pid, _ := p.Started() // a native one's is 0 until it starts
	e = &execProcess{id: r.ExecID, t: t, p: p, pid: pid, req: r, io: sio, done: make(chan struct{})}
	e.state = &execCreatedState{e}

	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.adding, r.ExecID)
	if err := t.state.exec(); err != nil { // the task ended meanwhile
		p.Delete(context.WithoutCancel(ctx))
		sio.close()
		return nil, err
	}
	if t.execs == nil {
		t.execs = map[string]*execProcess{}
	}
	t.execs[r.ExecID] = e
	return e, nil
}

// process is an exec process's process: a module run by oci in a wasm
// container, or a program run by runc in a native one.
type process interface {
	Start(ctx context.Context) error
	// Started is the process's pid and, when runc opened its terminal,
	// the pty master (nil otherwise); known once created for a wasm
	// process, once started for a native one (runc exec makes it then).
	Started() (pid int, console console.Console)
	Signal(sig syscall.Signal) error
	Wait(ctx context.Context) (int, error)
	Delete(ctx context.Context) error
}

// wasmProcess is an oci exec process, whose own terminal (if any) is the
// shim's pty.
type wasmProcess struct{ *oci.Process }

func (p wasmProcess) Started() (int, console.Console) { return p.Pid, nil }

// newProcess makes the process of exec request r.
func (t *task) newProcess(ctx context.Context, r *taskapi.ExecProcessRequest, proc *specs.Process, sio *stdio) (process, error) {
	if n, ok := t.rt.(*native.Runtime); ok {
		return n.Exec(t.id, r.ExecID, proc, native.CreateOpts{Stdin: sio.Stdin, Stdout: sio.Stdout, Stderr: sio.Stderr})
	}
	p, err := t.wasm.Exec(ctx, t.id, r.ExecID, proc, oci.ExecOpts{
		Stdin: sio.Stdin, Stdout: sio.Stdout, Stderr: sio.Stderr, Terminal: r.Terminal, CacheDir: t.cacheDir, Bundle: t.ociBundle,
	})
	if err != nil {
		return nil, err
	}
	return wasmProcess{p}, nil
}

// hasExited reports whether the task's process has exited.
func (t *task) hasExited() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// getExec returns exec process id of t.
func (t *task) getExec(id string) (*execProcess, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.execs[id]; e != nil {
		return e, nil
	}
	if t.adding[id] != nil {
		return nil, fmt.Errorf("exec process %s of task %s is being created: %w", id, t.id, errdefs.ErrFailedPrecondition)
	}
	return nil, fmt.Errorf("exec process %s of task %s: %w", id, t.id, errdefs.ErrNotFound)
}

// killExecs kills every exec process, those being created too (the
// task's exit); under mu.
func (t *task) killExecs() {
	for _, cancel := range t.adding {
		cancel()
	}
	for _, e := range t.execs {
		if e.alive() {
			e.p.Signal(syscall.SIGKILL)
		}
	}
}

// execsGone is closed once every exec process of the task, being created
// or made, has exited. Only a stopped task waits for it (no exec process
// is added then).
func (t *task) execsGone() <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		t.execsWG.Wait()
		close(ch)
	}()
	return ch
}

// watch waits for the process to exit, closes its stdio, records the
// exit and runs then (its TaskExit) under mu.
func (e *execProcess) watch(then func(Exit)) {
	defer e.t.execsWG.Done()
	code, _ := e.p.Wait(context.Background())
	at := time.Now()
	e.io.close()
	e.exited(code, at, then)
}

// The exec process's operations, each in its current state, under the
// task's mu.

// start lets the guest run and then runs then (TaskExecStarted) under
// mu, before the TaskExit that exited queues.
func (e *execProcess) start(ctx context.Context, then func()) error {
	e.t.mu.Lock()
	defer e.t.mu.Unlock()
	if err := e.t.state.exec(); err != nil {
		return err
	}
	if err := e.state.start(ctx); err != nil {
		return err
	}
	then()
	return nil
}

func (e *execProcess) kill(sig syscall.Signal) error {
	e.t.mu.Lock()
	defer e.t.mu.Unlock()
	return e.state.kill(sig)
}

// exited records the process's exit and runs then (its TaskExit) under mu.
func (e *execProcess) exited(code int, at time.Time, then func(Exit)) {
	e.t.mu.Lock()
	defer e.t.mu.Unlock()
	x := Exit{Pid: e.pid, Status: code, At: at}
	e.state.exited(x)
	then(x)
}

// delete removes a stopped exec process (a created one is killed first)
// from its task.
func (e *execProcess) delete(ctx context.Context) error {
	for {
		e.t.mu.Lock()
		err := e.state.delete(ctx)
		if err == nil {
			delete(e.t.execs, e.id)
		}
		e.t.mu.Unlock()
		if !errors.Is(err, errExitFirst) {
			return err
		}
		select {
		case <-e.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// status is the process's state for State, with its exit once stopped.
func (e *execProcess) status() (tasktypes.Status, Exit) {
	e.t.mu.Lock()
	defer e.t.mu.Unlock()
	return e.state.status(), e.exit
}

// alive reports whether the process has not exited; under mu.
func (e *execProcess) alive() bool {
	select {
	case <-e.done:
		return false
	default:
		return true
	}
}

func (e *execProcess) signal(sig syscall.Signal) error {
	if err := e.p.Signal(sig); err != nil {
		return classify(err)
	}
	return nil
}

// recordExit keeps the exit and wakes Wait; under mu.
func (e *execProcess) recordExit(x Exit) {
	e.exit = x
	close(e.done)
}

type execCreatedState struct{ e *execProcess }

func (s *execCreatedState) transition(to string) error {
	switch to {
	case "running":
		s.e.state = &execRunningState{s.e}
	case "stopped":
		s.e.state = &execStoppedState{s.e}
	default:
		return &stateTransitionError{"exec created", to}
	}
	return nil
}

func (s *execCreatedState) start(ctx context.Context) error {
	if err := s.e.p.Start(ctx); err != nil {
		return fmt.Errorf("start exec process %s: %w", s.e.id, classify(err))
	}
	var c console.Console
	s.e.pid, c = s.e.p.Started()
	if err := attachConsole(s.e.io, c, s.e.req.Stdin, s.e.req.Stdout); err != nil {
		s.e.p.Signal(syscall.SIGKILL)
		return fmt.Errorf("start exec process %s: %w", s.e.id, err)
	}
	return s.transition("running")
}

func (s *execCreatedState) kill(sig syscall.Signal) error { return s.e.signal(sig) }

func (s *execCreatedState) exited(x Exit) {
	s.e.recordExit(x)
	s.transition("stopped")
}

func (s *execCreatedState) delete(context.Context) error {
	if err := s.e.signal(syscall.SIGKILL); err != nil {
		return err
	}
	return errExitFirst
}

func (s *execCreatedState) status() tasktypes.Status { return tasktypes.Status_CREATED }

type execRunningState struct{ e *execProcess }

func (s *execRunningState) transition(to string) error {
	if to != "stopped" {
		return &stateTransitionError{"exec running", to}
	}
	s.e.state = &execStoppedState{s.e}
	return nil
}

func (s *execRunningState) start(context.Context) error {
	return fmt.Errorf("exec process %s is running, not created: %w", s.e.id, errdefs.ErrFailedPrecondition)
}

func (s *execRunningState) kill(sig syscall.Signal) error { return s.e.signal(sig) }

func (s *execRunningState) exited(x Exit) {
	s.e.recordExit(x)
	s.transition("stopped")
}

func (s *execRunningState) delete(context.Context) error {
	return fmt.Errorf("exec process %s is running: %w", s.e.id, errdefs.ErrFailedPrecondition)
}

func (s *execRunningState) status() tasktypes.Status { return tasktypes.Status_RUNNING }

type execStoppedState struct{ e *execProcess }

func (s *execStoppedState) transition(to string) error {
	if to != "deleted" {
		return &stateTransitionError{"exec stopped", to}
	}
	s.e.state = &execDeletedState{s.e}
	return nil
}

func (s *execStoppedState) start(context.Context) error {
	return fmt.Errorf("exec process %s has stopped, not created: %w", s.e.id, errdefs.ErrFailedPrecondition)
}

func (s *execStoppedState) kill(syscall.Signal) error {
	return fmt.Errorf("exec process %s: process already finished: %w", s.e.id, errdefs.ErrNotFound)
}

func (s *execStoppedState) exited(Exit) {}

// delete removes the exec FIFO of a process that never started (its
// stdio went at its exit).
func (s *execStoppedState) delete(ctx context.Context) error {
	if err := s.e.p.Delete(ctx); err != nil {
		return fmt.Errorf("delete exec process %s: %w", s.e.id, err)
	}
	return s.transition("deleted")
}

func (s *execStoppedState) status() tasktypes.Status { return tasktypes.Status_STOPPED }

type execDeletedState struct{ e *execProcess }

func (s *execDeletedState) gone() error {
	return fmt.Errorf("exec process %s: deleted: %w", s.e.id, errdefs.ErrNotFound)
}

func (s *execDeletedState) start(context.Context) error  { return s.gone() }
func (s *execDeletedState) kill(syscall.Signal) error    { return s.gone() }
func (s *execDeletedState) exited(Exit)                  {}
func (s *execDeletedState) delete(context.Context) error { return s.gone() }
func (s *execDeletedState) status() tasktypes.Status     { return tasktypes.Status_STOPPED }
