package wasi

import (
	"testing"
	"time"
)

// gettid: no thread ids to watch here.
func gettid() int { return 0 }

// waitInPpoll cannot see another thread's system call here (no /proc): it
// gives the wait time to start.
func waitInPpoll(t testing.TB, tid int) { time.Sleep(50 * time.Millisecond) }
