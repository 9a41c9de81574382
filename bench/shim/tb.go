package main

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/wasmrun/wasmrun/internal/testdaemon"
)

// tb is the testdaemon.TB of this program: logs go to stderr, Fatal and
// Skip panic with a benchFailure, which main recovers after running the
// cleanups.
type tb struct {
	mu       sync.Mutex
	cleanups []func()
	failed   atomic.Bool
}

var _ testdaemon.TB = (*tb)(nil)

// benchFailure is the panic value of a failed run: the message to print.
type benchFailure string

func (t *tb) Helper()      {}
func (t *tb) Failed() bool { return t.failed.Load() }

func (t *tb) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench/shim: "+format+"\n", args...)
}

func (t *tb) Fatal(args ...any)                 { t.fail(fmt.Sprint(args...)) }
func (t *tb) Fatalf(format string, args ...any) { t.fail(fmt.Sprintf(format, args...)) }

// Skip fails too: a benchmark that cannot run has no result.
func (t *tb) Skip(args ...any) { t.fail("skip: " + fmt.Sprint(args...)) }

func (t *tb) fail(msg string) {
	t.failed.Store(true)
	panic(benchFailure(msg))
}

// Cleanup registers f to run at the end, last registered first.
func (t *tb) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

// TempDir returns a new directory, removed at the end.
func (t *tb) TempDir() string {
	dir, err := os.MkdirTemp("", "bench-shim")
	if err != nil {
		t.Fatalf("create temporary directory: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
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
