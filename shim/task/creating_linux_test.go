package task

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	taskapi "github.com/containerd/containerd/api/runtime/task/v3"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/pkg/shutdown"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fakeCreate stands in for Create with the same steps: it reserves id,
// "runs" until its context is cancelled, rolls back (rolledBack is closed),
// tries to register and ends. err is what Create would return.
type fakeCreate struct {
	rolledBack chan struct{}
	returned   chan struct{}
	err        error
}

func startFakeCreate(t *testing.T, s *service, id string) *fakeCreate {
	t.Helper()
	ctx, c, err := s.beginCreate(context.Background(), &taskapi.CreateTaskRequest{ID: id, Bundle: "/bundle/" + id, Stdout: "/out"})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeCreate{rolledBack: make(chan struct{}), returned: make(chan struct{})}
	go func() {
		defer close(f.returned)
		defer s.endCreate(id, c)
		<-ctx.Done()
		time.Sleep(50 * time.Millisecond) // killing the process, removing the namespace...
		close(f.rolledBack)
		f.err = s.register(ctx, &task{id: id})
	}()
	return f
}

func newTestService(t *testing.T) (*service, shutdown.Service) {
	ctx, sd := shutdown.WithShutdown(context.Background())
	t.Cleanup(sd.Shutdown)
	return &service{ctx: ctx, shutdown: sd, tasks: map[string]*task{}, creating: map[string]*creation{}}, sd
}

// grpcCode is the code err has on the wire (as plugin.go's method sends it).
func grpcCode(err error) codes.Code { return status.Code(errgrpc.ToGRPC(err)) }

// A task being created answers State (CREATED, no pid), refuses what needs
// a process, keeps its id and the shim; a Wait waits for its Create; a
// non-ending signal does not stop it, SIGTERM does: Kill succeeds at once,
// the Create fails with the signal's status and frees the id.
func TestKillStopsCreate(t *testing.T) {
	s, sd := newTestService(t)
	ctx := context.Background()
	f := startFakeCreate(t, s, "c1")

	st, err := s.State(ctx, &taskapi.StateRequest{ID: "c1"})
	if err != nil || st.Status != tasktypes.Status_CREATED || st.Pid != 0 || st.Bundle != "/bundle/c1" || st.Stdout != "/out" {
		t.Fatalf("State while creating: %v %v", st, err)
	}
	if _, err := s.Start(ctx, &taskapi.StartRequest{ID: "c1"}); grpcCode(err) != codes.FailedPrecondition {
		t.Errorf("Start while creating: %v, want FailedPrecondition", err)
	}
	if _, err := s.Pids(ctx, &taskapi.PidsRequest{ID: "c1"}); grpcCode(err) != codes.FailedPrecondition {
		t.Errorf("Pids while creating: %v, want FailedPrecondition", err)
	}
	if _, _, err := s.beginCreate(ctx, &taskapi.CreateTaskRequest{ID: "c1"}); grpcCode(err) != codes.AlreadyExists {
		t.Errorf("a second Create of the id: %v, want AlreadyExists", err)
	}
	if _, err := s.Kill(ctx, &taskapi.KillRequest{ID: "c1", Signal: uint32(syscall.SIGCONT)}); grpcCode(err) != codes.FailedPrecondition {
		t.Errorf("Kill SIGCONT while creating: %v, want FailedPrecondition", err)
	}
	if _, err := s.Kill(ctx, &taskapi.KillRequest{ID: "c1", Signal: uint32(syscall.SIGTERM), ExecID: "x"}); grpcCode(err) != codes.NotFound {
		t.Errorf("Kill of an exec id: %v, want NotFound", err)
	}
	if _, err := s.Shutdown(ctx, &taskapi.ShutdownRequest{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sd.Done():
		t.Fatal("Shutdown stopped the shim while a task was being created")
	case <-f.rolledBack:
		t.Fatal("the create was stopped before any ending signal")
	case <-time.After(100 * time.Millisecond):
	}

	waited := make(chan error, 1)
	go func() {
		_, err := s.Wait(ctx, &taskapi.WaitRequest{ID: "c1"})
		waited <- err
	}()
	if _, err := s.Kill(ctx, &taskapi.KillRequest{ID: "c1", Signal: uint32(syscall.SIGTERM)}); err != nil {
		t.Fatalf("Kill SIGTERM while creating: %v", err)
	}
	<-f.returned
	if err := <-waited; grpcCode(err) != codes.NotFound {
		t.Errorf("Wait across the stopped create: %v, want NotFound", err)
	}
	if want := "task c1 killed with SIGTERM while being created (exit status 143)"; f.err == nil || f.err.Error() != want {
		t.Errorf("the create returned %v, want %q", f.err, want)
	}
	if c := grpcCode(f.err); c != codes.Canceled {
		t.Errorf("the create's error is %v on the wire, want Canceled", c)
	}
	if _, err := s.State(ctx, &taskapi.StateRequest{ID: "c1"}); grpcCode(err) != codes.NotFound {
		t.Errorf("State after the stopped create: %v, want NotFound", err)
	}
	if _, err := s.Kill(ctx, &taskapi.KillRequest{ID: "c1", Signal: uint32(syscall.SIGKILL)}); grpcCode(err) != codes.NotFound {
		t.Errorf("Kill after the stopped create: %v, want NotFound", err)
	}
	startFakeCreate(t, s, "c1") // the id is free again
}

// Delete of a task being created (containerd's cleanup after it gave up
// on the Create) stops it and returns once the rollback is done, with
// NotFound, which containerd takes as deleted; then the shim can go.
func TestDeleteStopsCreate(t *testing.T) {
	s, sd := newTestService(t)
	ctx := context.Background()
	f := startFakeCreate(t, s, "c2")
	_, err := s.Delete(ctx, &taskapi.DeleteRequest{ID: "c2"})
	select {
	case <-f.rolledBack:
	default:
		t.Fatal("Delete returned before the create's rollback")
	}
	if grpcCode(err) != codes.NotFound || !strings.Contains(err.Error(), "deleted while being created") {
		t.Errorf("Delete while creating: %v, want NotFound", err)
	}
	<-f.returned
	var stop *stopped
	if !errors.As(f.err, &stop) || stop.sig != 0 {
		t.Errorf("the create returned %v, want the Delete's cause", f.err)
	}
	if _, err := s.Shutdown(ctx, &taskapi.ShutdownRequest{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sd.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not stop the shim once the create was gone")
	}
}

// A Create that registered its task is no longer cancelled: Kill and
// Delete then act on the task.
func TestRegisteredCreateNotCancelled(t *testing.T) {
	s, _ := newTestService(t)
	ctx, c, err := s.beginCreate(context.Background(), &taskapi.CreateTaskRequest{ID: "c3"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.register(ctx, &task{id: "c3"}); err != nil {
		t.Fatal(err)
	}
	if s.cancelCreate("c3", &stopped{id: "c3", sig: syscall.SIGKILL}) != nil || ctx.Err() != nil {
		t.Error("a registered task's create was cancelled")
	}
	s.endCreate("c3", c)
	if tk, cr := s.lookup("c3"); tk == nil || cr != nil {
		t.Errorf("lookup: task %v, creation %v", tk, cr)
	}
}

func TestTerminates(t *testing.T) {
	for sig, want := range map[syscall.Signal]bool{
		0: false, syscall.SIGKILL: true, syscall.SIGTERM: true, syscall.SIGINT: true, syscall.SIGHUP: true,
		syscall.SIGQUIT: true, syscall.SIGUSR1: true, syscall.SIGPIPE: true, 34: true, 64: true, 65: false,
		syscall.SIGCHLD: false, syscall.SIGCONT: false, syscall.SIGURG: false, syscall.SIGWINCH: false,
		syscall.SIGSTOP: false, syscall.SIGTSTP: false, syscall.SIGTTIN: false, syscall.SIGTTOU: false,
	} {
		if got := terminates(sig); got != want {
			t.Errorf("terminates(%d) = %v, want %v", sig, got, want)
		}
	}
}
