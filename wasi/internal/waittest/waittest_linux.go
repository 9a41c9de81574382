// Package waittest holds what the Linux tests of package wasi and its
// system layer share to act on a wait that has really started. It is for
// _test.go files only.
package waittest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// InPpoll returns once thread tid of this process is blocked in ppoll(2).
// It checks the thread's current system call every millisecond, for at
// most 10 s.
func InPpoll(t testing.TB, tid int) {
	t.Helper()
	path := fmt.Sprintf("/proc/self/task/%d/syscall", tid)
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("read %s: %v", path, err)
			return
		}
		if f := strings.Fields(string(b)); len(f) > 0 && f[0] == strconv.Itoa(unix.SYS_PPOLL) {
			return
		}
	}
	t.Errorf("thread %d never blocked in ppoll", tid)
}
