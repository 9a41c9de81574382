// Package task is the containerd task service of the wasmrun shim: a thin
// translation of task API calls (v2 and v3: the same wire messages under
// two service names) into oci container operations, plus the task events
// TaskCreate, TaskStart, TaskExit and TaskDelete in that order, TaskPaused
// and TaskResumed, and for exec processes (more modules run in a task's
// container) TaskExecAdded, TaskExecStarted and their TaskExit. Each task
// and each exec process has an explicit state machine (task_linux.go,
// exec_linux.go).
//
// Errors are classified with errdefs inside the package and converted to
// gRPC status once, where the ttrpc methods are registered.
package task

import (
	"context"

	taskapi "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/containerd/v2/pkg/shim"
	"github.com/containerd/containerd/v2/pkg/shutdown"
	"github.com/containerd/containerd/v2/plugins"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/containerd/plugin"
	"github.com/containerd/plugin/registry"
	"github.com/containerd/ttrpc"
)

func init() {
	registry.Register(&plugin.Registration{
		Type:     plugins.TTRPCPlugin,
		ID:       "task",
		Requires: []plugin.Type{plugins.EventPlugin, plugins.InternalPlugin},
		InitFn: func(ic *plugin.InitContext) (any, error) {
			pp, err := ic.GetByID(plugins.EventPlugin, "publisher")
			if err != nil {
				return nil, err
			}
			ss, err := ic.GetByID(plugins.InternalPlugin, "shutdown")
			if err != nil {
				return nil, err
			}
			return newService(ic.Context, pp.(shim.Publisher), ss.(shutdown.Service), ic.Properties[plugins.PropertyGRPCAddress])
		},
	})
}

// Service names of the task API: containerd < 2.3 dials v2, later ones v3.
const (
	serviceV2 = "containerd.task.v2.Task"
	serviceV3 = "containerd.task.v3.Task"
)

// RegisterTTRPC registers the task service under both API versions.
func (s *service) RegisterTTRPC(server *ttrpc.Server) error {
	desc := &ttrpc.ServiceDesc{Methods: map[string]ttrpc.Method{
		"State":      method(s.State),
		"Create":     method(s.Create),
		"Start":      method(s.Start),
		"Delete":     method(s.Delete),
		"Pids":       method(s.Pids),
		"Pause":      method(s.Pause),
		"Resume":     method(s.Resume),
		"Checkpoint": method(s.Checkpoint),
		"Kill":       method(s.Kill),
		"Exec":       method(s.Exec),
		"ResizePty":  method(s.ResizePty),
		"CloseIO":    method(s.CloseIO),
		"Update":     method(s.Update),
		"Wait":       method(s.Wait),
		"Stats":      method(s.Stats),
		"Connect":    method(s.Connect),
		"Shutdown":   method(s.Shutdown),
	}}
	server.RegisterService(serviceV3, desc)
	server.RegisterService(serviceV2, desc)
	return nil
}

var _ taskapi.TTRPCTaskService = (*service)(nil)

// method adapts one service method to ttrpc, converting its error to a
// gRPC status (the only place that happens).
func method[Req any, Resp any](f func(context.Context, *Req) (Resp, error)) ttrpc.Method {
	return func(ctx context.Context, unmarshal func(any) error) (any, error) {
		var req Req
		if err := unmarshal(&req); err != nil {
			return nil, err
		}
		resp, err := f(ctx, &req)
		if err != nil {
			return nil, errgrpc.ToGRPC(err)
		}
		return resp, nil
	}
}
