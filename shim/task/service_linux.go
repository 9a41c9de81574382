package task

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/cgroups/v3"
	eventstypes "github.com/containerd/containerd/api/events"
	taskapi "github.com/containerd/containerd/api/runtime/task/v3"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/core/runtime"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oom"
	oomv1 "github.com/containerd/containerd/v2/pkg/oom/v1"
	oomv2 "github.com/containerd/containerd/v2/pkg/oom/v2"
	"github.com/containerd/containerd/v2/pkg/protobuf"
	"github.com/containerd/containerd/v2/pkg/shim"
	"github.com/containerd/containerd/v2/pkg/shutdown"
	"github.com/containerd/errdefs"
	"github.com/containerd/log"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/wasmrun/wasmrun/oci"
)

// service implements the task API for every task of this shim (one shim
// may hold many: the containers of a pod).
type service struct {
	ctx    context.Context
	events *eventQueue
	// oom publishes TaskOOM when the kernel's OOM killer acts in a task's
	// cgroup (CRI then reports the container OOMKilled), as containerd's
	// runc shim does; nil where it could not be made.
	oom      oom.Watcher
	shutdown shutdown.Service
	// grpcAddress is containerd's API, for the content of wasm images.
	grpcAddress string

	mu       sync.Mutex
	tasks    map[string]*task
	creating map[string]*creation // Creates in flight (creating_linux.go)
}

func newService(ctx context.Context, p shim.Publisher, sd shutdown.Service, grpcAddress string) (*service, error) {
	s := &service{
		ctx:         ctx,
		grpcAddress: grpcAddress,
		events:      newEventQueue(ctx, p),
		shutdown:    sd,
		tasks:       map[string]*task{},
		creating:    map[string]*creation{},
	}
	sd.RegisterCallback(func(context.Context) error {
		s.events.drain(5 * time.Second)
		return p.Close()
	})
	var err error
	if cgroups.Mode() == cgroups.Unified {
		s.oom, err = oomv2.New(s.events)
	} else {
		s.oom, err = oomv1.New(s.events)
	}
	if err != nil {
		log.G(ctx).WithError(err).Warn("no OOM events: the OOM watcher could not be made")
		s.oom = nil
	} else {
		go s.oom.Run(ctx)
	}
	return s, nil
}

// watchOOM adds task t's cgroup, if it has one, to the OOM watcher.
func (s *service) watchOOM(ctx context.Context, t *task) {
	if s.oom == nil || t.cgroup == "" {
		return
	}
	cg, err := oci.WatchableCgroup(t.cgroup)
	if err == nil {
		err = s.oom.Add(t.id, cg)
	}
	if err != nil {
		log.G(ctx).WithError(err).WithField("id", t.id).Warn("no OOM events for the task")
	}
}

// created is closed by the first Create this server gets: until then it
// may be a server whose start action failed after all (Created).
var (
	created     = make(chan struct{})
	firstCreate sync.Once
)

// Created returns a channel closed once this server got its first Create.
func Created() <-chan struct{} { return created }

// lookup returns task id, or its Create in flight (both nil: neither).
func (s *service) lookup(id string) (*task, *creation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tasks[id], s.creating[id]
}

func (s *service) get(id string) (*task, error) {
	t, c := s.lookup(id)
	switch {
	case t != nil:
		return t, nil
	case c != nil:
		return nil, fmt.Errorf("task %s is being created: %w", id, errdefs.ErrFailedPrecondition)
	}
	return nil, fmt.Errorf("task %s: %w", id, errdefs.ErrNotFound)
}

// getExec returns task id and its exec process execID ("": none, the
// request is the task's own process).
func (s *service) getExec(id, execID string) (*task, *execProcess, error) {
	t, err := s.get(id)
	if execID == "" {
		return t, nil, err
	}
	if _, c := s.lookup(id); c != nil {
		return nil, nil, fmt.Errorf("exec process %s of task %s (being created, it has none): %w", execID, id, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, nil, err
	}
	e, err := t.getExec(execID)
	if err != nil {
		return nil, nil, err
	}
	return t, e, nil
}

// classify maps oci errors to errdefs classes.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, oci.ErrNotFound):
		return fmt.Errorf("%w: %w", err, errdefs.ErrNotFound)
	case errors.Is(err, oci.ErrFailedPrecondition):
		return fmt.Errorf("%w: %w", err, errdefs.ErrFailedPrecondition)
	}
	return err
}

// Create sets up the task: rootfs, stdio, the oci container (namespace,
// module compiled, process waiting for Start), its cgroup. Kill and Delete
// cancel it while it runs (see creating_linux.go).
func (s *service) Create(ctx context.Context, r *taskapi.CreateTaskRequest) (_ *taskapi.CreateTaskResponse, retErr error) {
	firstCreate.Do(func() { close(created) })
	if r.Checkpoint != "" {
		return nil, fmt.Errorf("restore from a checkpoint is not supported by wasmrun: %w", errdefs.ErrNotImplemented)
	}
	if err := oci.ValidateID(r.ID); err != nil {
		return nil, fmt.Errorf("%w: %w", err, errdefs.ErrInvalidArgument)
	}
	ns, _ := namespaces.Namespace(ctx)
	cfg, err := loadConfig(r.Options)
	if err != nil {
		return nil, err
	}
	ctx, cr, err := s.beginCreate(ctx, r)
	if err != nil {
		return nil, err
	}
	defer func() { // last, after the rollback below
		var stop *stopped
		if retErr != nil && errors.As(context.Cause(ctx), &stop) {
			retErr = stop // whatever step it stopped
		}
		s.endCreate(r.ID, cr)
	}()

	t, err := newTask(ctx, r, cfg, ns, s.grpcAddress)
	if err != nil {
		return nil, err
	}
	if err := s.register(ctx, t); err != nil {
		// Cancelled as it finished: it goes as if it had failed.
		removeTask(context.WithoutCancel(ctx), t.rt, t.bundle, t.id)
		t.io.close()
		return nil, err
	}
	s.events.publish(runtime.TaskCreateEventTopic, &eventstypes.TaskCreate{
		ContainerID: r.ID, Bundle: r.Bundle, Rootfs: r.Rootfs, Pid: uint32(t.pid),
		IO: &eventstypes.TaskIO{Stdin: r.Stdin, Stdout: r.Stdout, Stderr: r.Stderr, Terminal: r.Terminal},
	})
	s.watchOOM(ctx, t)
	go s.watch(t)
	return &taskapi.CreateTaskResponse{Pid: uint32(t.pid)}, nil
}

// watch waits for the task process, records its exit and queues TaskExit.
func (s *service) watch(t *task) {
	code, _ := t.c.Wait(context.Background())
	at := time.Now()
	t.io.close()
	t.exited(Exit{Pid: t.pid, Status: code, At: at}, func() {
		s.events.publish(runtime.TaskExitEventTopic, &eventstypes.TaskExit{
			ContainerID: t.id, ID: t.id, Pid: uint32(t.pid), ExitStatus: uint32(code), ExitedAt: protobuf.ToTimestamp(at),
		})
	})
}

// Start lets the guest run (the spec's startContainer and poststart hooks
// run in oci's Start), or an exec process's.
func (s *service) Start(ctx context.Context, r *taskapi.StartRequest) (*taskapi.StartResponse, error) {
	t, e, err := s.getExec(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	if e != nil {
		err := e.start(ctx, func() {
			s.events.publish(runtime.TaskExecStartedEventTopic, &eventstypes.TaskExecStarted{ContainerID: r.ID, ExecID: e.id, Pid: uint32(e.pid)})
		})
		if err != nil {
			return nil, err
		}
		return &taskapi.StartResponse{Pid: uint32(e.pid)}, nil
	}
	err = t.start(ctx, func() {
		s.events.publish(runtime.TaskStartEventTopic, &eventstypes.TaskStart{ContainerID: r.ID, Pid: uint32(t.pid)})
	})
	if err != nil {
		return nil, err
	}
	return &taskapi.StartResponse{Pid: uint32(t.pid)}, nil
}

// Kill sends a signal to the task process (all=true is the same: its exec
// processes die with it), or to an exec process. A signal that ends a
// process stops a task being created: its Create fails and removes all it
// made.
func (s *service) Kill(ctx context.Context, r *taskapi.KillRequest) (*emptypb.Empty, error) {
	sig := syscall.Signal(r.Signal)
	if r.ExecID != "" {
		_, e, err := s.getExec(r.ID, r.ExecID)
		if err != nil {
			return nil, err
		}
		if err := e.kill(sig); err != nil {
			return nil, err
		}
		return &emptypb.Empty{}, nil
	}
	if terminates(sig) && s.cancelCreate(r.ID, &stopped{r.ID, sig}) != nil {
		return &emptypb.Empty{}, nil
	}
	t, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	if err := t.kill(sig); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// Wait blocks until the task process, or an exec process, exits. For a
// task being created (which State reports as CREATED) that is after its
// Create: a task whose Create failed is not found.
func (s *service) Wait(ctx context.Context, r *taskapi.WaitRequest) (*taskapi.WaitResponse, error) {
	if r.ExecID != "" {
		_, e, err := s.getExec(r.ID, r.ExecID)
		if err != nil {
			return nil, err
		}
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return &taskapi.WaitResponse{ExitStatus: uint32(e.exit.Status), ExitedAt: protobuf.ToTimestamp(e.exit.At)}, nil
	}
	if _, c := s.lookup(r.ID); c != nil {
		select {
		case <-c.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	t, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	select {
	case <-t.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &taskapi.WaitResponse{ExitStatus: uint32(t.exit.Status), ExitedAt: protobuf.ToTimestamp(t.exit.At)}, nil
}

// State reports the task's status. A task being created is CREATED with
// no pid yet (the task API has no "creating"; containerd's task Get, which
// ctr task kill goes through, needs an answer).
func (s *service) State(ctx context.Context, r *taskapi.StateRequest) (*taskapi.StateResponse, error) {
	if r.ExecID != "" {
		return s.execState(r)
	}
	if _, c := s.lookup(r.ID); c != nil {
		return &taskapi.StateResponse{
			ID: r.ID, Bundle: c.req.Bundle, Status: tasktypes.Status_CREATED,
			Stdin: c.req.Stdin, Stdout: c.req.Stdout, Stderr: c.req.Stderr,
		}, nil
	}
	t, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	status, exit := t.status()
	resp := &taskapi.StateResponse{
		ID: t.id, Bundle: t.bundle, Pid: uint32(t.pid), Status: status,
		Stdin: t.req.Stdin, Stdout: t.req.Stdout, Stderr: t.req.Stderr,
	}
	if status == tasktypes.Status_STOPPED {
		resp.ExitStatus = uint32(exit.Status)
		resp.ExitedAt = protobuf.ToTimestamp(exit.At)
	}
	return resp, nil
}

// Delete removes a stopped (or never started) task (removeTask: process,
// namespace, cgroup, rootfs mount, state, poststop hooks) and queues
// TaskDelete. A task being created is stopped (its Create fails and
// removes what it made): then it is not found, as containerd expects of a
// task whose Create failed. An exec process is removed without an event.
func (s *service) Delete(ctx context.Context, r *taskapi.DeleteRequest) (*taskapi.DeleteResponse, error) {
	if r.ExecID != "" {
		return s.deleteExec(ctx, r)
	}
	if c := s.cancelCreate(r.ID, &stopped{id: r.ID}); c != nil {
		select {
		case <-c.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("task %s deleted while being created: %w", r.ID, errdefs.ErrNotFound)
	}
	t, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	if err := t.delete(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	delete(s.tasks, r.ID)
	s.mu.Unlock()
	_, exit := t.status()
	s.events.publish(runtime.TaskDeleteEventTopic, &eventstypes.TaskDelete{
		ContainerID: r.ID, ID: r.ID, Pid: uint32(t.pid), ExitStatus: uint32(exit.Status), ExitedAt: protobuf.ToTimestamp(exit.At),
	})
	return &taskapi.DeleteResponse{Pid: uint32(t.pid), ExitStatus: uint32(exit.Status), ExitedAt: protobuf.ToTimestamp(exit.At)}, nil
}

// Pids lists the task's processes: the container process and the exec
// processes (with their exec ids, as runc's shim gives them).
func (s *service) Pids(ctx context.Context, r *taskapi.PidsRequest) (*taskapi.PidsResponse, error) {
	t, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	return &taskapi.PidsResponse{Processes: t.pids()}, nil
}

// CloseIO closes the guest's stdin (the task's or an exec process's).
func (s *service) CloseIO(ctx context.Context, r *taskapi.CloseIORequest) (*emptypb.Empty, error) {
	t, e, err := s.getExec(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	if r.Stdin {
		if e != nil {
			e.io.CloseStdin()
		} else {
			t.io.CloseStdin()
		}
	}
	return &emptypb.Empty{}, nil
}

// Connect returns the shim's and the task's pids.
func (s *service) Connect(ctx context.Context, r *taskapi.ConnectRequest) (*taskapi.ConnectResponse, error) {
	resp := &taskapi.ConnectResponse{ShimPid: uint32(os.Getpid())}
	if t, err := s.get(r.ID); err == nil {
		resp.TaskPid = uint32(t.pid)
	}
	return resp, nil
}

// Shutdown stops the shim once it holds no task (or at once with Now).
func (s *service) Shutdown(ctx context.Context, r *taskapi.ShutdownRequest) (*emptypb.Empty, error) {
	s.mu.Lock()
	n := len(s.tasks) + len(s.creating)
	s.mu.Unlock()
	if n > 0 && !r.Now {
		return &emptypb.Empty{}, nil
	}
	s.shutdown.Shutdown()
	return &emptypb.Empty{}, nil
}

// Stats returns the cgroup metrics of the task process.
func (s *service) Stats(ctx context.Context, r *taskapi.StatsRequest) (*taskapi.StatsResponse, error) {
	t, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	st, err := t.rt.Stats(r.ID)
	if errors.Is(err, oci.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", err, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return &taskapi.StatsResponse{Stats: st}, nil
}

// Update changes the task's cgroup resources.
func (s *service) Update(ctx context.Context, r *taskapi.UpdateTaskRequest) (*emptypb.Empty, error) {
	t, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	if r.Resources == nil {
		return &emptypb.Empty{}, nil
	}
	var res specs.LinuxResources
	if err := json.Unmarshal(r.Resources.GetValue(), &res); err != nil {
		return nil, fmt.Errorf("decode resources (%s): %w: %w", r.Resources.GetTypeUrl(), err, errdefs.ErrInvalidArgument)
	}
	if err := t.rt.Update(r.ID, &res); err != nil {
		return nil, fmt.Errorf("update resources of %s: %w", r.ID, classify(err))
	}
	return &emptypb.Empty{}, nil
}

func notImplemented(what string) error {
	return fmt.Errorf("%s is not supported by the wasmrun shim: %w", what, errdefs.ErrNotImplemented)
}

// Pause freezes the task, exec processes included, and queues TaskPaused.
func (s *service) Pause(ctx context.Context, r *taskapi.PauseRequest) (*emptypb.Empty, error) {
	t, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	err = t.pause(func() {
		s.events.publish(runtime.TaskPausedEventTopic, &eventstypes.TaskPaused{ContainerID: r.ID})
	})
	if err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// Resume thaws a paused task and queues TaskResumed.
func (s *service) Resume(ctx context.Context, r *taskapi.ResumeRequest) (*emptypb.Empty, error) {
	t, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	err = t.resume(func() {
		s.events.publish(runtime.TaskResumedEventTopic, &eventstypes.TaskResumed{ContainerID: r.ID})
	})
	if err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// Checkpoint is not supported.
func (s *service) Checkpoint(ctx context.Context, r *taskapi.CheckpointTaskRequest) (*emptypb.Empty, error) {
	return nil, notImplemented("checkpoint")
}

// ResizePty sets the window size of the terminal of a task or exec
// process created with one.
func (s *service) ResizePty(ctx context.Context, r *taskapi.ResizePtyRequest) (*emptypb.Empty, error) {
	t, e, err := s.getExec(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	sio := t.io
	if e != nil {
		sio = e.io
	}
	if err := sio.resize(r.Width, r.Height); err != nil {
		return nil, fmt.Errorf("resize the terminal of %s: %w: %w", processName(r.ID, r.ExecID), err, errdefs.ErrFailedPrecondition)
	}
	return &emptypb.Empty{}, nil
}

// processName names a task, or one of its exec processes, in messages.
func processName(id, execID string) string {
	if execID == "" {
		return "task " + id
	}
	return "exec process " + execID + " of task " + id
}
