package main

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// tb lets a plain program use internal/testdaemon, whose helpers take a
// testing.TB: the embedded (nil) interface supplies the unexported method;
// only the methods testdaemon calls are implemented. Fatal and Skip panic
// with a benchFailure, which main recovers after running the cleanups.
type tb struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

type benchFailure string

func (t *tb) Helper()          {}
func (t *tb) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }
func (t *tb) Failed() bool     { return t.failed }
func (t *tb) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench/shim: "+format+"\n", args...)
}
func (t *tb) Log(args ...any)                   { fmt.Fprintln(os.Stderr, append([]any{"bench/shim:"}, args...)...) }
func (t *tb) Fatal(args ...any)                 { t.fail(fmt.Sprint(args...)) }
func (t *tb) Fatalf(format string, args ...any) { t.fail(fmt.Sprintf(format, args...)) }
func (t *tb) Skip(args ...any)                  { t.fail("skip: " + fmt.Sprint(args...)) }
func (t *tb) Skipf(format string, args ...any)  { t.fail("skip: " + fmt.Sprintf(format, args...)) }
func (t *tb) Errorf(format string, args ...any) {
	t.failed = true
	t.Logf(format, args...)
}

func (t *tb) fail(msg string) {
	t.failed = true
	panic(benchFailure(msg))
}

// cleanup runs the registered cleanups, last first, once (from main or
// from the signal handler, whichever comes first).
func (t *tb) cleanup() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	t.cleanups = nil
}
