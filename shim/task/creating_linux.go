package task

import (
	"context"
	"fmt"
	"syscall"

	taskapi "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// A Create may take long, or forever: the first compile of a large module,
// or a start function that never returns (it runs while the module is
// instantiated, before Start). Kill and Delete act on such a task all the
// same: they cancel its Create, which kills the container process, removes
// what it made (namespace, cgroup, mounts, state) and fails, so that for
// containerd the task never existed.
//
// Kill returns at once, as a signal is sent and not waited for: containerd
// answers the failed Create with Delete and Shutdown, and a Kill still
// waiting then could lose its answer with the shim. Delete returns once
// the Create has returned: containerd removes the bundle next. containerd
// itself sends Delete when it gives up on a Create (its caller went away,
// e.g. an interrupted ctr): the ttrpc call it abandons goes on in the shim
// until then.
//
// A cancelled Create always fails, whatever step it had reached: it
// checks for the cancel under s.mu as it registers the task, and Kill and
// Delete cancel under s.mu.

// creation is a Create in flight.
type creation struct {
	req    *taskapi.CreateTaskRequest
	cancel context.CancelCauseFunc
	done   chan struct{} // closed once Create has returned, rollback done
}

// beginCreate reserves id for r's Create and returns the context that
// Kill and Delete cancel.
func (s *service) beginCreate(ctx context.Context, r *taskapi.CreateTaskRequest) (context.Context, *creation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tasks[r.ID] != nil || s.creating[r.ID] != nil {
		return nil, nil, fmt.Errorf("task %s: %w", r.ID, errdefs.ErrAlreadyExists)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	c := &creation{req: r, cancel: cancel, done: make(chan struct{})}
	s.creating[r.ID] = c
	return ctx, c, nil
}

// register turns the creation of t into the task t, unless it was
// cancelled: then it returns the cause.
func (s *service) register(ctx context.Context, t *task) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	delete(s.creating, t.id)
	s.tasks[t.id] = t
	return nil
}

// endCreate runs last in Create, after its rollback: the id is free again
// (unless registered) and a Delete waiting on done goes on.
func (s *service) endCreate(id string, c *creation) {
	s.mu.Lock()
	if s.creating[id] == c {
		delete(s.creating, id)
	}
	s.mu.Unlock()
	c.cancel(nil)
	close(c.done)
}

// cancelCreate cancels the Create of id in flight, if there is one, with
// cause, and returns it (nil: none).
func (s *service) cancelCreate(id string, cause error) *creation {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.creating[id]
	if c != nil {
		c.cancel(cause)
	}
	return c
}

// stopped is why a Create was cancelled: a Kill with sig, or a Delete
// (sig 0). A Kill's message gives the signal's exit status, 128+N, as
// containerd reports for a task that the signal ended.
type stopped struct {
	id  string
	sig syscall.Signal
}

func (e *stopped) Error() string {
	if e.sig == 0 {
		return fmt.Sprintf("task %s deleted while being created", e.id)
	}
	return fmt.Sprintf("task %s killed with %s while being created (exit status %d)", e.id, unix.SignalName(e.sig), 128+int(e.sig))
}

func (e *stopped) Unwrap() error { return context.Canceled }

// terminates reports whether sig's default action ends a process: such a
// signal stops a task being created. Any other has no process to act on
// yet.
func terminates(sig syscall.Signal) bool {
	switch sig {
	case unix.SIGCHLD, unix.SIGCONT, unix.SIGURG, unix.SIGWINCH,
		unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
		return false
	}
	return sig > 0 && sig <= 64 // SIGRTMAX
}
