package wasi

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/wasi/internal/waittest"
)

// gettid is this thread's id, for waitInPpoll.
func gettid() int { return unix.Gettid() }

// waitInPpoll returns once thread tid is blocked in ppoll(2).
func waitInPpoll(t testing.TB, tid int) { waittest.InPpoll(t, tid) }
