package task

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"

	taskapi "github.com/containerd/containerd/api/runtime/task/v3"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/errdefs"
	"github.com/containerd/log"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/wasmrun/wasmrun/oci"
	"github.com/wasmrun/wasmrun/shim/bundlefile"
	"github.com/wasmrun/wasmrun/shim/native"
)

// task is one container: its oci container, stdio and place in its life,
// and its exec processes (exec_linux.go).
type task struct {
	id, bundle string
	rt         engine
	c          waiter
	// wasm is rt for a wasm container (which exec processes need); nil
	// for a native one.
	wasm *oci.Runtime
	pid  int
	req  *taskapi.CreateTaskRequest
	io   *stdio
	// ociBundle is the bundle the oci container was made from (a pod
	// sandbox's is the shim's rewrite of bundle); ns and cacheDir are
	// what exec processes get too: the containerd namespace (for
	// logging binaries) and the compiled-module cache.
	ociBundle, ns, cacheDir string
	// cgroup is the task's cgroup path (cgroupfs), or "" without one.
	cgroup string

	// mu guards state, the exec processes and their states, and orders
	// the events of a process: TaskStart is queued before TaskExit.
	mu    sync.Mutex
	state taskState
	exit  Exit
	done  chan struct{} // closed once exit is set

	execs   map[string]*execProcess       // by exec id, until deleted
	adding  map[string]context.CancelFunc // exec processes being created
	execsWG sync.WaitGroup                // exec processes not yet exited
}

// newTask makes task r.ID: its rootfs (mounted, and the wasm layer of an
// image fetched), the shim's configuration saved with the bundle, its
// stdio, and the oci container (namespace, cgroup, process waiting for
// Start; the spec's create hooks). What it made is removed if it fails
// (ctx cancelled included: a Kill or Delete during the Create).
func newTask(ctx context.Context, r *taskapi.CreateTaskRequest, cfg Config, ns, grpcAddress string) (_ *task, retErr error) {
	var undo rollback
	defer func() {
		if retErr != nil {
			undo.run()
		}
	}()
	if err := bundlefile.ClearRemoved(r.Bundle); err != nil {
		return nil, err
	}
	spec, err := oci.LoadSpec(r.Bundle)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, errdefs.ErrInvalidArgument)
	}
	if err := mountRootfs(r.Bundle, r.Rootfs); err != nil {
		return nil, err
	}
	undo.add(func() { unmountRootfs(r.Bundle) })
	if len(r.Rootfs) > 0 {
		// An image: a wasm-artifact layer is not in the unpacked rootfs.
		if _, err := fetchWasmModule(ctx, grpcAddress, r.ID, oci.RootPath(r.Bundle, spec), spec); err != nil {
			return nil, err
		}
	}
	if err := saveConfig(r.Bundle, cfg); err != nil {
		return nil, err
	}
	ociBundle := r.Bundle
	if isSandbox(spec) {
		if ociBundle, err = sandboxBundle(r.Bundle, spec); err != nil {
			return nil, err
		}
	}
	isNative := !isSandbox(spec) && native.IsNative(oci.RootPath(r.Bundle, spec), spec)
	var runcPath string
	if !isNative {
		warnCgroup(ctx, r.ID, spec)
	} else {
		// Before anything else is made: a missing runc is one clear error.
		if runcPath, err = native.Lookup(cfg.RuncPath); err != nil {
			return nil, err
		}
	}
	sio, err := openTaskStdio(r.ID, ns, isNative, r.Terminal, r.Stdin, r.Stdout, r.Stderr)
	if err != nil {
		return nil, err
	}
	undo.add(sio.close)
	t := &task{
		id: r.ID, bundle: r.Bundle, req: r, io: sio, done: make(chan struct{}),
		ociBundle: ociBundle, ns: ns, cacheDir: cfg.CacheDir, cgroup: oci.CgroupPath(spec),
	}
	t.state = &createdState{t}
	if isNative {
		rt := native.New(r.Bundle, runcPath)
		t.rt = rt
		c, err := rt.Create(ctx, r.ID, native.CreateOpts{Stdin: sio.Stdin, Stdout: sio.Stdout, Stderr: sio.Stderr, Terminal: r.Terminal})
		sio.closeChildEnds()
		if err != nil {
			return nil, err
		}
		t.c, t.pid = c, c.Pid
		if err := attachConsole(sio, c.Console, r.Stdin, r.Stdout); err != nil {
			rt.Delete(context.WithoutCancel(ctx), r.ID, true)
			return nil, err
		}
		log.G(ctx).WithField("id", r.ID).Infof("native container: run by %s", runcPath)
	} else {
		t.wasm = wasmRuntime(ctx, r.Bundle, r.ID, cfg)
		t.rt = t.wasm
		c, err := t.wasm.Create(ctx, r.ID, ociBundle, oci.CreateOpts{
			Stdin: sio.Stdin, Stdout: sio.Stdout, Stderr: sio.Stderr, Terminal: r.Terminal, CacheDir: cfg.CacheDir,
			Network: oci.NetworkOpts{Outbound: cfg.Network.Outbound == nil || *cfg.Network.Outbound, Bridge: cfg.Network.Bridge},
			Bundle:  r.Bundle,
		})
		sio.closeChildEnds()
		if err != nil {
			return nil, fmt.Errorf("create wasm container %s: %w", r.ID, classify(err))
		}
		t.c, t.pid = c, c.Pid
	}
	undo.add(func() { t.rt.Delete(context.WithoutCancel(ctx), r.ID, true) })
	if err := bundlefile.WritePid(r.Bundle, t.pid); err != nil {
		return nil, err
	}
	return t, nil
}

// engine is what runs a task's container: oci for a wasm one, runc
// (native) for a native one.
type engine interface {
	Start(ctx context.Context, id string) error
	Kill(id string, sig syscall.Signal) error
	Pause(id string) error
	Resume(id string) error
	Delete(ctx context.Context, id string, force bool) error
	Stats(id string) (*anypb.Any, error)
	Update(id string, res *specs.LinuxResources) error
}

// waiter is a created container's process.
type waiter interface {
	Wait(ctx context.Context) (int, error)
}

// runtimeOf is the engine of the task in bundle, for the delete action:
// runc's when the bundle holds a native container.
func runtimeOf(ctx context.Context, bundle, id string, cfg Config) engine {
	if native.Has(bundle) {
		path, err := native.Lookup(cfg.RuncPath)
		if err != nil {
			log.G(ctx).WithError(err).Warn("delete a native container")
			path = "runc"
		}
		return native.New(bundle, path)
	}
	return wasmRuntime(ctx, bundle, id, cfg)
}

// wasmRuntime is the oci runtime of task id: its state in the bundle, its
// network as the shim's configuration says, its log the shim's.
func wasmRuntime(ctx context.Context, bundle, id string, cfg Config) *oci.Runtime {
	logf := func(format string, args ...any) { log.G(ctx).WithField("id", id).Debugf(format, args...) }
	return &oci.Runtime{Root: filepath.Join(bundle, bundlefile.OCIRoot), Network: cfg.Network.value(logf), Log: logf}
}

// warnCgroup says in the shim's log, as a warning, that a cgroup path in
// the systemd driver's form (slice:prefix:name: a CRI runtime with
// SystemdCgroup, a kubelet with the systemd cgroup driver) is not
// honoured: wasmrun manages cgroups through cgroupfs, and without systemd
// to ask it makes none. The task still runs (its memory limit still caps
// the guest's linear memory), without the cgroup's limits and accounting.
func warnCgroup(ctx context.Context, id string, spec *specs.Spec) {
	if spec.Linux == nil || spec.Linux.CgroupsPath == "" || oci.CgroupPath(spec) != "" {
		return
	}
	log.G(ctx).WithField("id", id).WithField("cgroupsPath", spec.Linux.CgroupsPath).Warn(
		"cgroup path in the systemd driver's slice:prefix:name form cannot be honoured (wasmrun manages cgroups through cgroupfs only): " +
			"the task runs without a cgroup: no cgroup resource limits, no metrics (ctr task metrics, crictl stats), no pause; " +
			"use the cgroupfs driver (SystemdCgroup = false) for the wasmrun runtime")
}

// removeTask is the one teardown of a task, by Delete and by the delete
// action (Cleanup): the oci container (its process killed, namespace,
// cgroup and state removed, its poststop hooks run) and the rootfs mount.
// Whatever is already gone is not an error.
func removeTask(ctx context.Context, rt engine, bundle, id string) error {
	var errs []error
	if err := rt.Delete(ctx, id, true); err != nil && !errors.Is(err, oci.ErrNotFound) {
		errs = append(errs, err)
	}
	if err := unmountRootfs(bundle); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// rollback is what a failed step-by-step setup undoes, last step first.
type rollback []func()

func (r *rollback) add(f func()) { *r = append(*r, f) }

func (r rollback) run() {
	for i := len(r) - 1; i >= 0; i-- {
		r[i]()
	}
}

// A task's life, kept as containerd's runc shim keeps a process's
// (init_state.go): one type per state, each doing what is legal in it and
// moving only along
//
//	created --start--> running --exited--> stopped --delete--> deleted
//	created --exited (killed before Start)--> stopped
//	running --pause--> paused --resume--> running
//	paused --kill (a signal that ends it: thawed after it)--> running
//	paused --exited--> stopped
//
// A created task is deleted by killing it first (its process waits on
// the exec FIFO): it is removed once its exit has made it stopped. Exec
// processes are added while it is created or running; its exit kills
// them, and its delete waits until they are gone.
type taskState interface {
	processState
	pause() error
	resume() error
	// exec says whether an exec process may be added or started now.
	exec() error
}

// processState is what every state of a process does, the task's and an
// exec process's (exec_linux.go).
type processState interface {
	start(ctx context.Context) error
	kill(sig syscall.Signal) error
	exited(e Exit)
	delete(ctx context.Context) error
	status() tasktypes.Status
}

// stateTransitionError is a move the state machine does not have: a bug.
type stateTransitionError struct{ from, to string }

func (e *stateTransitionError) Error() string {
	return fmt.Sprintf("invalid task state transition from %s to %s", e.from, e.to)
}

// errExitFirst is a created process's answer to delete: it was killed,
// and is deleted once stopped.
var errExitFirst = errors.New("killed; delete after its exit")

// errExecsFirst is a stopped task's answer to delete while its exec
// processes, killed at its exit, are not all gone.
var errExecsFirst = errors.New("exec processes left; delete after their exit")

// notPaused is the answer to a resume of a task that is not paused.
func notPaused(t *task, what string) error {
	return fmt.Errorf("task %s is %s, not paused: %w", t.id, what, errdefs.ErrFailedPrecondition)
}

type createdState struct{ t *task }

func (s *createdState) transition(to string) error {
	switch to {
	case "running":
		s.t.state = &runningState{s.t}
	case "stopped":
		s.t.state = &stoppedState{s.t}
	default:
		return &stateTransitionError{"created", to}
	}
	return nil
}

func (s *createdState) start(ctx context.Context) error {
	if err := s.t.rt.Start(ctx, s.t.id); err != nil {
		return fmt.Errorf("start task %s: %w", s.t.id, classify(err))
	}
	return s.transition("running")
}

func (s *createdState) kill(sig syscall.Signal) error { return s.t.signal(sig) }

func (s *createdState) exited(e Exit) {
	s.t.recordExit(e)
	s.transition("stopped")
}

func (s *createdState) delete(context.Context) error {
	if err := s.t.signal(syscall.SIGKILL); err != nil {
		return err
	}
	return errExitFirst
}

func (s *createdState) pause() error {
	return fmt.Errorf("task %s is created, not running: start it before pausing it: %w", s.t.id, errdefs.ErrFailedPrecondition)
}

func (s *createdState) resume() error { return notPaused(s.t, "created") }
func (s *createdState) exec() error   { return nil }

func (s *createdState) status() tasktypes.Status { return tasktypes.Status_CREATED }

type runningState struct{ t *task }

func (s *runningState) transition(to string) error {
	switch to {
	case "paused":
		s.t.state = &pausedState{s.t}
	case "stopped":
		s.t.state = &stoppedState{s.t}
	default:
		return &stateTransitionError{"running", to}
	}
	return nil
}

func (s *runningState) start(context.Context) error {
	return fmt.Errorf("task %s is running, not created: %w", s.t.id, errdefs.ErrFailedPrecondition)
}

func (s *runningState) kill(sig syscall.Signal) error { return s.t.signal(sig) }

func (s *runningState) exited(e Exit) {
	s.t.recordExit(e)
	s.transition("stopped")
}

func (s *runningState) delete(context.Context) error {
	return fmt.Errorf("task %s is running: %w", s.t.id, errdefs.ErrFailedPrecondition)
}

// pause freezes the container, exec processes included.
func (s *runningState) pause() error {
	if len(s.t.adding) > 0 {
		return fmt.Errorf("task %s: an exec process is being created; pause it after: %w", s.t.id, errdefs.ErrFailedPrecondition)
	}
	if err := s.t.rt.Pause(s.t.id); err != nil {
		return fmt.Errorf("pause task %s: %w", s.t.id, classify(err))
	}
	return s.transition("paused")
}

func (s *runningState) resume() error { return notPaused(s.t, "running") }
func (s *runningState) exec() error   { return nil }

func (s *runningState) status() tasktypes.Status { return tasktypes.Status_RUNNING }

// pausedState is a task whose processes are frozen (its cgroup's freezer).
type pausedState struct{ t *task }

func (s *pausedState) transition(to string) error {
	switch to {
	case "running":
		s.t.state = &runningState{s.t}
	case "stopped":
		s.t.state = &stoppedState{s.t}
	default:
		return &stateTransitionError{"paused", to}
	}
	return nil
}

func (s *pausedState) start(context.Context) error {
	return fmt.Errorf("task %s is paused, not created: %w", s.t.id, errdefs.ErrFailedPrecondition)
}

// kill signals the frozen process and, for a signal whose default action
// ends a process, thaws it so that it can act (as runc does for SIGKILL:
// on cgroup v1 a frozen process acts on no signal): it ends, or, if the
// guest subscribed to the signal (wasmrun.signal_subscribe), handles it
// and runs on, so the task is running again either way. Any other signal
// waits for Resume.
func (s *pausedState) kill(sig syscall.Signal) error {
	if err := s.t.signal(sig); err != nil {
		return err
	}
	if !terminates(sig) {
		return nil
	}
	if err := s.t.rt.Resume(s.t.id); err != nil {
		return fmt.Errorf("thaw task %s after %s: %w", s.t.id, unix.SignalName(sig), classify(err))
	}
	return s.transition("running")
}

// exited: the process can end while frozen (cgroup v2 acts on SIGKILL,
// the OOM killer). Its exec processes are killed with it and need thawing
// to die.
func (s *pausedState) exited(e Exit) {
	s.t.recordExit(e)
	if err := s.t.rt.Resume(s.t.id); err != nil && !errors.Is(err, oci.ErrNotFound) {
		log.L.WithError(err).WithField("id", s.t.id).Warn("thaw the cgroup of a task that exited while paused")
	}
	s.transition("stopped")
}

func (s *pausedState) delete(context.Context) error {
	return fmt.Errorf("task %s is paused: kill it first: %w", s.t.id, errdefs.ErrFailedPrecondition)
}

func (s *pausedState) pause() error {
	return fmt.Errorf("task %s is already paused: %w", s.t.id, errdefs.ErrFailedPrecondition)
}

func (s *pausedState) resume() error {
	if err := s.t.rt.Resume(s.t.id); err != nil {
		return fmt.Errorf("resume task %s: %w", s.t.id, classify(err))
	}
	return s.transition("running")
}

func (s *pausedState) exec() error {
	return fmt.Errorf("task %s is paused: resume it first: %w", s.t.id, errdefs.ErrFailedPrecondition)
}

func (s *pausedState) status() tasktypes.Status { return tasktypes.Status_PAUSED }

type stoppedState struct{ t *task }

func (s *stoppedState) transition(to string) error {
	if to != "deleted" {
		return &stateTransitionError{"stopped", to}
	}
	s.t.state = &deletedState{s.t}
	return nil
}

func (s *stoppedState) start(context.Context) error {
	return fmt.Errorf("task %s has stopped, not created: %w", s.t.id, errdefs.ErrFailedPrecondition)
}

func (s *stoppedState) kill(syscall.Signal) error {
	return fmt.Errorf("task %s: process already finished: %w", s.t.id, errdefs.ErrNotFound)
}

func (s *stoppedState) exited(Exit) {}

func (s *stoppedState) delete(ctx context.Context) error {
	if len(s.t.adding) > 0 {
		return errExecsFirst
	}
	for _, e := range s.t.execs {
		if e.alive() {
			return errExecsFirst
		}
	}
	if err := removeTask(ctx, s.t.rt, s.t.bundle, s.t.id); err != nil {
		log.G(ctx).WithError(err).WithField("id", s.t.id).Warn("delete left something behind")
	} else if err := bundlefile.MarkRemoved(s.t.bundle); err != nil {
		// The `delete` action, which containerd runs after every shim,
		// then has nothing to do (it does the whole cleanup when this
		// mark is missing). Written here, in the server's Delete, which
		// containerd waits for before it removes the bundle: never by
		// the delete action itself, which may run while containerd
		// removes the bundle (a file made then would keep it).
		log.G(ctx).WithError(err).WithField("id", s.t.id).Warn("delete")
	}
	return s.transition("deleted")
}

func (s *stoppedState) pause() error {
	return fmt.Errorf("task %s has stopped: %w", s.t.id, errdefs.ErrFailedPrecondition)
}

func (s *stoppedState) resume() error { return notPaused(s.t, "stopped") }

func (s *stoppedState) exec() error {
	return fmt.Errorf("task %s has stopped: %w", s.t.id, errdefs.ErrFailedPrecondition)
}

func (s *stoppedState) status() tasktypes.Status { return tasktypes.Status_STOPPED }

type deletedState struct{ t *task }

func (s *deletedState) gone() error {
	return fmt.Errorf("task %s: deleted: %w", s.t.id, errdefs.ErrNotFound)
}

func (s *deletedState) start(context.Context) error  { return s.gone() }
func (s *deletedState) kill(syscall.Signal) error    { return s.gone() }
func (s *deletedState) exited(Exit)                  {}
func (s *deletedState) delete(context.Context) error { return s.gone() }
func (s *deletedState) pause() error                 { return s.gone() }
func (s *deletedState) resume() error                { return s.gone() }
func (s *deletedState) exec() error                  { return s.gone() }

func (s *deletedState) status() tasktypes.Status { return tasktypes.Status_STOPPED }

// signal sends sig to the task's process.
func (t *task) signal(sig syscall.Signal) error {
	if err := t.rt.Kill(t.id, sig); err != nil {
		return classify(err)
	}
	return nil
}

// recordExit keeps the exit, in memory and in the bundle (for the delete
// action), wakes Wait, and kills the exec processes: none outlives the
// task (as runc's shim kills all of a container without a pid namespace
// of its own); under mu.
func (t *task) recordExit(e Exit) {
	t.exit = e
	if err := bundlefile.WriteExit(t.bundle, e); err != nil {
		log.L.WithError(err).WithField("id", t.id).Warn("record exit status")
	}
	close(t.done)
	t.killExecs()
}

// The task's operations, each in its current state, under mu.

// start lets the guest run and then runs then (the TaskStart event) under
// mu, so that it comes before the TaskExit that exited queues.
func (t *task) start(ctx context.Context, then func()) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.state.start(ctx); err != nil {
		return err
	}
	then()
	return nil
}

func (t *task) kill(sig syscall.Signal) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state.kill(sig)
}

// pause and resume freeze and thaw the task and then run then (the
// TaskPaused or TaskResumed event) under mu.
func (t *task) pause(then func()) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.state.pause(); err != nil {
		return err
	}
	then()
	return nil
}

func (t *task) resume(then func()) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.state.resume(); err != nil {
		return err
	}
	then()
	return nil
}

// exited records the process's exit and runs then (the TaskExit event)
// under mu, so that it comes after a TaskStart queued by start.
func (t *task) exited(e Exit, then func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.state.exited(e)
	then()
}

func (t *task) delete(ctx context.Context) error {
	for {
		t.mu.Lock()
		err := t.state.delete(ctx)
		t.mu.Unlock()
		var wait <-chan struct{}
		switch {
		case errors.Is(err, errExitFirst):
			wait = t.done
		case errors.Is(err, errExecsFirst):
			wait = t.execsGone()
		default:
			return err
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// status is the task's state for State, with its exit once stopped.
func (t *task) status() (tasktypes.Status, Exit) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state.status(), t.exit
}
