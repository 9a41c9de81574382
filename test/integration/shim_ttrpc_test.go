package integration

import (
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/containerd/cgroups/v3/cgroup1/stats"
	v2 "github.com/containerd/cgroups/v3/cgroup2/stats"
	taskv3 "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/ttrpc"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/wasmrun/wasmrun/internal/testdaemon"
)

// testShimTTRPC calls the task API of a running task's shim directly (from
// the bundle's address file) for what ctr cannot reach: Update then Stats
// shows the new memory limit; the unsupported calls say so.
func testShimTTRPC(t *testing.T, d *testdaemon.Daemon, rootfs string) {
	id := newID("ttrpc")
	pid := startDetached(t, d, rootfs, id, nil)
	bundle := filepath.Join(d.Dir, "state", "io.containerd.runtime.v2.task", testdaemon.Namespace, id)
	address := strings.TrimSpace(readFile(t, filepath.Join(bundle, "address")))
	conn, err := net.Dial("unix", strings.TrimPrefix(address, "unix://"))
	if err != nil {
		t.Fatal(err)
	}
	client := ttrpc.NewClient(conn)
	defer client.Close()
	task := taskv3.NewTTRPCTaskClient(client)
	ctx, cancel := testContext()
	defer cancel()
	ctx = namespaces.WithNamespace(ctx, testdaemon.Namespace)

	pids, err := task.Pids(ctx, &taskv3.PidsRequest{ID: id})
	if err != nil || len(pids.Processes) != 1 || int(pids.Processes[0].Pid) != pid {
		t.Fatalf("Pids: %v %v, want [%d]", pids, err, pid)
	}

	const limit = 64 << 20
	res, err := json.Marshal(specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: proto.Int64(limit)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := task.Update(ctx, &taskv3.UpdateTaskRequest{ID: id, Resources: &anypb.Any{
		TypeUrl: "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources", Value: res,
	}}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	st, err := task.Stats(ctx, &taskv3.StatsRequest{ID: id})
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	var got uint64
	switch {
	case strings.HasSuffix(st.Stats.GetTypeUrl(), "io.containerd.cgroups.v1.Metrics"):
		var m v1.Metrics
		if err := proto.Unmarshal(st.Stats.GetValue(), &m); err != nil {
			t.Fatal(err)
		}
		got = m.GetMemory().GetUsage().GetLimit()
		if m.GetMemory().GetUsage().GetUsage() == 0 {
			t.Errorf("memory usage 0 in %v", &m)
		}
	case strings.HasSuffix(st.Stats.GetTypeUrl(), "io.containerd.cgroups.v2.Metrics"):
		var m v2.Metrics
		if err := proto.Unmarshal(st.Stats.GetValue(), &m); err != nil {
			t.Fatal(err)
		}
		got = m.GetMemory().GetUsageLimit()
	default:
		t.Fatalf("Stats type %s", st.Stats.GetTypeUrl())
	}
	if got != limit {
		t.Errorf("memory limit after Update %d, want %d", got, limit)
	}

	if _, err := task.Exec(ctx, &taskv3.ExecProcessRequest{ID: id, ExecID: "x"}); err == nil || !strings.Contains(err.Error(), "invalid argument") {
		t.Errorf("Exec without a process spec: %v, want invalid argument", err)
	}
	if _, err := task.Pause(ctx, &taskv3.PauseRequest{ID: id}); err != nil {
		t.Errorf("Pause: %v", err)
	}
	if st, err := task.State(ctx, &taskv3.StateRequest{ID: id}); err != nil || st.GetStatus().String() != "PAUSED" {
		t.Errorf("State after Pause: %v %v, want PAUSED", st.GetStatus(), err)
	}
	if _, err := task.Resume(ctx, &taskv3.ResumeRequest{ID: id}); err != nil {
		t.Errorf("Resume: %v", err)
	}
	for name, call := range map[string]func() error{
		"Checkpoint": func() error { _, err := task.Checkpoint(ctx, &taskv3.CheckpointTaskRequest{ID: id}); return err },
	} {
		err := call()
		if err == nil || !strings.Contains(err.Error(), "not supported") || !strings.Contains(err.Error(), "not implemented") {
			t.Errorf("%s: %v, want a clear not-implemented error", name, err)
		}
	}
	if _, err := task.ResizePty(ctx, &taskv3.ResizePtyRequest{ID: id, Width: 80, Height: 25}); err == nil || !strings.Contains(err.Error(), "no terminal") || !strings.Contains(err.Error(), "failed precondition") {
		t.Errorf("ResizePty of a task without a terminal: %v, want failed precondition (no terminal)", err)
	}
	if _, err := task.Start(ctx, &taskv3.StartRequest{ID: id}); err == nil || !strings.Contains(err.Error(), "failed precondition") {
		t.Errorf("Start of a running task: %v, want failed precondition", err)
	}
	if _, err := task.Delete(ctx, &taskv3.DeleteRequest{ID: id}); err == nil || !strings.Contains(err.Error(), "failed precondition") {
		t.Errorf("Delete of a running task: %v, want failed precondition", err)
	}
}
