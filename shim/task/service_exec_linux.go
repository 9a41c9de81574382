package task

import (
	"context"
	"encoding/json"
	"fmt"

	eventstypes "github.com/containerd/containerd/api/events"
	taskapi "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/containerd/api/types/runc/options"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/core/runtime"
	"github.com/containerd/containerd/v2/pkg/protobuf"
	"github.com/containerd/errdefs"
	"github.com/containerd/log"
	"github.com/containerd/typeurl/v2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The task API's calls on exec processes (ExecID set): Exec here, and
// Start, Kill, Wait, State, Delete, CloseIO and Pids through the task's
// exec processes (exec_linux.go). Events: TaskExecAdded, TaskExecStarted,
// and TaskExit with the exec id, as containerd's runc shim sends them.

// Exec creates an exec process in task r.ID: the module at the path
// r.Spec.Args[0] in the container, ready for Start, on a pty of its own
// when r.Terminal (tty_linux.go).
func (s *service) Exec(ctx context.Context, r *taskapi.ExecProcessRequest) (*emptypb.Empty, error) {
	if r.ExecID == "" {
		return nil, fmt.Errorf("exec in task %s: no exec id: %w", r.ID, errdefs.ErrInvalidArgument)
	}
	var proc specs.Process
	if err := json.Unmarshal(r.GetSpec().GetValue(), &proc); err != nil {
		return nil, fmt.Errorf("decode exec process spec (%s): %w: %w", r.GetSpec().GetTypeUrl(), err, errdefs.ErrInvalidArgument)
	}
	if len(proc.Args) == 0 || proc.Args[0] == "" {
		return nil, fmt.Errorf("exec in task %s: the process spec has no args: nothing to run: %w", r.ID, errdefs.ErrInvalidArgument)
	}
	t, err := s.get(r.ID)
	if err != nil {
		return nil, err
	}
	e, err := t.addExec(ctx, r, &proc)
	if err != nil {
		return nil, err
	}
	s.events.publish(runtime.TaskExecAddedEventTopic, &eventstypes.TaskExecAdded{ContainerID: r.ID, ExecID: r.ExecID})
	go s.watchExec(e)
	return &emptypb.Empty{}, nil
}

// watchExec waits for exec process e, records its exit and queues its
// TaskExit.
func (s *service) watchExec(e *execProcess) {
	e.watch(func(x Exit) {
		s.events.publish(runtime.TaskExitEventTopic, &eventstypes.TaskExit{
			ContainerID: e.t.id, ID: e.id, Pid: uint32(x.Pid), ExitStatus: uint32(x.Status), ExitedAt: protobuf.ToTimestamp(x.At),
		})
	})
}

// execState is State of an exec process.
func (s *service) execState(r *taskapi.StateRequest) (*taskapi.StateResponse, error) {
	t, e, err := s.getExec(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	status, exit := e.status()
	resp := &taskapi.StateResponse{
		ID: e.id, ExecID: e.id, Bundle: t.bundle, Pid: uint32(e.pid), Status: status,
		Stdin: e.req.Stdin, Stdout: e.req.Stdout, Stderr: e.req.Stderr,
	}
	if status == tasktypes.Status_STOPPED {
		resp.ExitStatus = uint32(exit.Status)
		resp.ExitedAt = protobuf.ToTimestamp(exit.At)
	}
	return resp, nil
}

// deleteExec is Delete of an exec process: a stopped one is removed, a
// created one killed first, a running one refused.
func (s *service) deleteExec(ctx context.Context, r *taskapi.DeleteRequest) (*taskapi.DeleteResponse, error) {
	_, e, err := s.getExec(r.ID, r.ExecID)
	if err != nil {
		return nil, err
	}
	if err := e.delete(ctx); err != nil {
		return nil, err
	}
	_, exit := e.status()
	return &taskapi.DeleteResponse{Pid: uint32(e.pid), ExitStatus: uint32(exit.Status), ExitedAt: protobuf.ToTimestamp(exit.At)}, nil
}

// pids are the task's live processes: its own and its exec processes'
// (each with its exec id in Info).
func (t *task) pids() []*tasktypes.ProcessInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*tasktypes.ProcessInfo
	if !t.hasExited() {
		out = append(out, &tasktypes.ProcessInfo{Pid: uint32(t.pid)})
	}
	for _, e := range t.execs {
		if !e.alive() {
			continue
		}
		info, err := typeurl.MarshalAnyToProto(&options.ProcessDetails{ExecID: e.id})
		if err != nil {
			log.L.WithError(err).Warn("encode process details")
		}
		out = append(out, &tasktypes.ProcessInfo{Pid: uint32(e.pid), Info: info})
	}
	return out
}
