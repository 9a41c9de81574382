package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startModule is a wasm module (no imports) whose start function runs body
// (one function, no locals); it also exports that function as _start.
func startModule(body ...byte) []byte {
	code := append([]byte{0x00}, body...) // no locals
	code = append(code, 0x0b)             // end
	m := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	m = append(m, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00)                               // type () -> ()
	m = append(m, 0x03, 0x02, 0x01, 0x00)                                           // func 0: type 0
	m = append(m, 0x07, 0x0a, 0x01, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x00) // export _start
	m = append(m, 0x08, 0x01, 0x00)                                                 // start: func 0
	m = append(m, 0x0a, byte(len(code)+2), 0x01, byte(len(code)))                   // code section
	return append(m, code...)
}

var (
	// endlessStart loops forever in its start function.
	endlessStart = startModule(0x03, 0x40, 0x0c, 0x00, 0x0b) // loop br 0 end
	// trapStart traps in its start function.
	trapStart = startModule(0x00) // unreachable
)

// initProcess returns the pid of app name's container process once it has
// used at least cpu of CPU time (it is then running the guest's code), or
// 0 when that does not happen within osTimeout.
func (e *osEnv) initProcess(name string, cpu time.Duration) int {
	arg := []byte("__wasmrun_container_init\x00" + name + "\x00")
	deadline := time.Now().Add(osTimeout)
	for time.Now().Before(deadline) {
		for _, pid := range liveProcesses(wasmrunInit, func(proc string) bool {
			b, _ := os.ReadFile(proc + "/cmdline")
			return bytes.Contains(b, arg)
		}) {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
			if len(f) > 12 {
				ticks, _ := strconv.Atoi(f[11]) // utime
				if time.Duration(ticks)*10*time.Millisecond >= cpu {
					return pid
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0
}

// TestOSStopInStartFunction: an app whose start function never returns is
// still being created, forever; Ctrl-C (SIGINT), SIGTERM and `wasmrun
// stop` stop it all the same, at once, with the signal's status (130,
// 143), and leave nothing.
func TestOSStopInStartFunction(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	for _, tc := range []struct {
		name string
		stop func(r *osRun, name string)
		want int
	}{
		{"SIGINT", func(r *osRun, _ string) { r.signal(syscall.SIGINT) }, 130},
		{"SIGTERM", func(r *osRun, _ string) { r.signal(syscall.SIGTERM) }, 143},
		{"wasmrun stop", func(_ *osRun, name string) {
			if s := e.run("stop", name); s.code != 0 {
				t.Errorf("wasmrun stop: exit %d: %s", s.code, s.stderr)
			}
		}, 143},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			app := e.app(nil, "", "")
			writeFile(t, filepath.Join(app, "app.wasm"), string(endlessStart))
			name := "c" + strings.ReplaceAll(strings.ToLower(tc.name), " ", "")
			r := e.start("--name", name, app)
			if e.initProcess(name, 200*time.Millisecond) == 0 {
				t.Fatalf("the endless start function never ran\nstderr:\n%s", r.stderr)
			}
			if s, err := os.ReadFile(filepath.Join(e.state, "containers", name, "state.json")); err != nil || !strings.Contains(string(s), `"pid": 0`) {
				t.Fatalf("not in creation: %s %v", s, err)
			}
			start := time.Now()
			tc.stop(r, name)
			if code := r.wait(); code != tc.want {
				t.Errorf("exit status %d, want %d\nstderr:\n%s", code, tc.want, r.stderr)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("stopping took %v", d)
			}
			e.noLeaks()
		})
	}
}

// TestOSTrapInStart: a guest that traps in its start function ends with
// 134, as a trap anywhere else does, not wasmrun's own 125.
func TestOSTrapInStart(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	app := e.app(nil, "", "")
	writeFile(t, filepath.Join(app, "app.wasm"), string(trapStart))
	r := e.run("os", app)
	if r.code != 134 || !strings.Contains(r.stderr, "unreachable") {
		t.Errorf("exit %d, want 134 with the trap\nstderr:\n%s", r.code, r.stderr)
	}
	e.noLeaks()
}
