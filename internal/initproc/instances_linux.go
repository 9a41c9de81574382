package initproc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/internal/runner"
	"github.com/wasmrun/wasmrun/wasi"
)

// An app with Config.Instances > 1 runs that many instances of its module
// in this one process (runner.Instance): they share the compiled code,
// each has its own memory and descriptors, and all listen on the app's
// ports (SO_REUSEPORT), so the kernel spreads connections over them.
//
// The process supervises them:
//   - An instance that ends (exit, proc_exit, trap) while another is still
//     running is replaced under the same number, after a back-off that
//     starts at minBackoff and doubles up to maxBackoff for each quick
//     end; an instance that ran for resetAfter starts the count again.
//     Each end is a line on stderr with the instance's number, and a
//     trap's message.
//   - When the last running instance ends, the app ends with its exit
//     code, as one instance would: an app whose instances all fail at
//     start fails as a single one does.
//   - SIGINT, SIGTERM and SIGHUP stop the app. A signal no instance has
//     subscribed to (wasi.ExtModuleName) takes its default action, in the
//     signal handler: the process ends at once (130, 143, as with one
//     instance), whatever the instances do; no goroutine needs to run,
//     and one started ignored stays ignored. Once an instance subscribes
//     to a signal, the supervisor hears it too: unless every running
//     instance has subscribed, it gives the signal its default action
//     (reset, raised again); otherwise each instance handles it, none is
//     replaced, and the app ends when the last one has (with its exit
//     code). SIGKILL ends everything, as always.
//   - Go cannot preempt a goroutine that runs wasm code, so each instance
//     gets a P of its own (GOMAXPROCS at least N+1): the kernel then
//     shares the CPUs between instances that compute, and the supervisor
//     still runs. A garbage collection of the process waits for every
//     instance to reach a host call, so an instance that computes for
//     long without one delays the others then.

// Back-off of an instance's replacement.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
	resetAfter = 10 * time.Second
)

// backoff is the wait before the replacement of an instance that ran for
// ran after a wait of last (0 for the first start).
func backoff(last, ran time.Duration) time.Duration {
	if last == 0 || ran >= resetAfter {
		return minBackoff
	}
	return min(2*last, maxBackoff)
}

// instances are the running instances of an app.
type instances struct {
	p   *runner.Prepared
	cfg *Config
	// live are the running instances by number (nil: not running).
	live []*runner.Instance
	// wait is the last back-off of each number.
	wait []time.Duration
	// stop hears the stop signals an instance subscribed to.
	stop chan os.Signal
}

// instanceEnd is an instance that ended.
type instanceEnd struct {
	k    int
	code int
	err  error
	ran  time.Duration
}

// startInstances instantiates all of cfg.Instances, for Main to report;
// the error is that of the first that fails (Instantiate's), and none is
// left then.
func startInstances(ctx context.Context, p *runner.Prepared, cfg *Config) (*instances, error) {
	s := &instances{p: p, cfg: cfg, live: make([]*runner.Instance, cfg.Instances), wait: make([]time.Duration, cfg.Instances),
		stop: make(chan os.Signal, 1)}
	for k := range s.live {
		inst, err := p.Instance(ctx, k, s.hooks(k))
		if err != nil {
			for _, i := range s.live[:k] {
				i.Close(ctx)
			}
			return nil, err
		}
		s.live[k] = inst
	}
	return s, nil
}

// hooks are instance k's: its subscriptions reach the supervisor, and
// for Verbose its socket events are printed.
func (s *instances) hooks(k int) runner.InstanceHooks {
	h := runner.InstanceHooks{Subscribed: s.subscribed}
	if s.cfg.Verbose {
		h.SocketEvents = func(e wasi.SocketEvent) { fmt.Fprintf(os.Stderr, "wasmrun: guest %d: %s\n", k, e) }
	}
	return h
}

// subscribed makes the supervisor hear a stop signal that an instance
// subscribed to (before, the signal's default action ends the process).
func (s *instances) subscribed(sig int) {
	switch sig := syscall.Signal(sig); sig {
	case unix.SIGINT, unix.SIGTERM, unix.SIGHUP:
		signal.Notify(s.stop, sig)
	}
}

// run runs the instances until the app ends, and returns its exit code.
func (s *instances) run(ctx context.Context) int {
	defer s.p.Close(ctx)
	runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), len(s.live)+1))
	ends := make(chan instanceEnd, len(s.live))
	replace := make(chan int, len(s.live))
	start := func(k int) {
		inst := s.live[k]
		go func() {
			t := time.Now()
			code, err := inst.Run(ctx)
			ends <- instanceEnd{k: k, code: code, err: err, ran: time.Since(t)}
		}()
	}
	for k := range s.live {
		start(k)
	}
	if s.cfg.Verbose {
		fmt.Fprintf(os.Stderr, "wasmrun: running %d instances of %s, sharing its compiled code\n", len(s.live), s.cfg.Module)
	}
	running, stopping := len(s.live), false
	for {
		select {
		case sig := <-s.stop:
			if !stopping && !s.allSubscribed(sig.(syscall.Signal)) {
				// The default action, as for one instance: the
				// process ends by the signal.
				signal.Reset(sig)
				unix.Kill(os.Getpid(), sig.(syscall.Signal))
			}
			stopping = true
		case e := <-ends:
			running--
			s.live[e.k] = nil
			what := fmt.Sprintf("exited with status %d", e.code)
			if e.err != nil {
				// A trap's message has its stack trace: a line of
				// its own.
				fmt.Fprintf(os.Stderr, "wasmrun: instance %d: %v\n", e.k, e.err)
				what = "trapped"
				if !errors.As(e.err, new(*runner.TrapError)) {
					what = "could not start"
				}
			}
			if running == 0 {
				return e.code
			}
			if stopping {
				continue
			}
			s.wait[e.k] = backoff(s.wait[e.k], e.ran)
			fmt.Fprintf(os.Stderr, "wasmrun: instance %d %s; starting it again in %v\n", e.k, what, s.wait[e.k])
			time.AfterFunc(s.wait[e.k], func() { replace <- e.k })
		case k := <-replace:
			if stopping {
				continue
			}
			inst, err := s.p.Instance(ctx, k, s.hooks(k))
			if err != nil {
				// It could not start, or ended in its start
				// function: an end after no time.
				code := runner.TrapExitCode
				if exit := new(runner.GuestExit); errors.As(err, &exit) {
					code, err = exit.Code, nil
				}
				running++
				ends <- instanceEnd{k: k, code: code, err: err}
				continue
			}
			running++
			s.live[k] = inst
			start(k)
			if s.cfg.Verbose {
				fmt.Fprintf(os.Stderr, "wasmrun: instance %d started again\n", k)
			}
		}
	}
}

// allSubscribed reports whether every running instance has subscribed to
// sig (then it does not end the process).
func (s *instances) allSubscribed(sig syscall.Signal) bool {
	for _, i := range s.live {
		if i != nil && !i.Subscribed(int(sig)) {
			return false
		}
	}
	return true
}
