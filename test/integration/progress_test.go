package integration

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/guests"
	"github.com/wasmrun/wasmrun/internal/testpty"
)

// A first compile slower than a second shows progress: on a terminal a
// line redrawn in place, then the final line; elsewhere the final line
// alone; a start from the cache, nothing. For `wasmrun os` the compile
// happens in the container process, whose stderr is the app's, so the
// progress comes from there. Ctrl-C during the compile ends the run with
// 130, as anywhere else.

// compileNotice is the line wasmrun writes on a stderr that is not a
// terminal after a compile slower than a second.
var compileNotice = regexp.MustCompile(`(?m)^wasmrun: compiled .* in [0-9.]+m?s; (cached in .*, the next start is fast|not cached)\n`)

// withoutCompileNotice removes the compile notice from the stderr of a
// run (runCommand): whether a guest's first compile takes more than a
// second depends on the machine and its load, not on what a test checks.
// The tests here see it with stderrOf.
func withoutCompileNotice(s string) string { return compileNotice.ReplaceAllString(s, "") }

// stderrOf runs cmd to completion and returns its exit code and stderr as
// it was.
func stderrOf(t *testing.T, cmd *exec.Cmd) (int, string) {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil && cmd.ProcessState == nil {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// slowWasm writes a module that takes 1.5 to 3 s to compile.
func slowWasm(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "slow.wasm")
	writeFile(t, path, string(guests.SlowCompile(130)))
	return path
}

// ptyRun is a wasmrun process whose stderr is a terminal.
type ptyRun struct {
	cmd  *exec.Cmd
	tty  *testpty.Output
	done chan struct{}
	code int
}

// startOnPty starts cmd with a pseudo-terminal as its stderr, in a
// process group of its own (as a shell starts a job), and reads the
// terminal until the process ends.
func startOnPty(t *testing.T, cmd *exec.Cmd) *ptyRun {
	t.Helper()
	master, slave := testpty.Open(t)
	defer slave.Close()
	r := &ptyRun{cmd: cmd, done: make(chan struct{})}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.tty = testpty.Read(t, master)
	go func() {
		cmd.Wait()
		r.code = cmd.ProcessState.ExitCode()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.code = 128 + int(ws.Signal())
		}
		close(r.done)
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-r.done
	})
	return r
}

func (r *ptyRun) terminal() string { return r.tty.String() }

// waitFor waits until the terminal shows s.
func (r *ptyRun) waitFor(t *testing.T, s string) {
	t.Helper()
	if !waitUntil(osTimeout, 20*time.Millisecond, func() bool { return strings.Contains(r.terminal(), s) }) {
		t.Fatalf("no %q on the terminal after %v: %q", s, osTimeout, r.terminal())
	}
}

// wait waits for the process to end and the terminal to be drained, and
// returns the exit status and what reached the terminal.
func (r *ptyRun) wait(t *testing.T) (int, string) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(osTimeout):
		t.Fatalf("no exit after %v; terminal: %q", osTimeout, r.terminal())
	}
	select {
	case <-r.tty.Done():
	case <-time.After(5 * time.Second): // a process of the group still holds it
	}
	return r.code, r.terminal()
}

// wantProgress checks a terminal's output: the progress line drawn and
// redrawn, then the final line over it.
func wantProgress(t *testing.T, tty, wasm, cache string) {
	t.Helper()
	draw := regexp.MustCompile(`\r\x1b\[Kwasmrun: compiling ` + regexp.QuoteMeta(filepath.Base(wasm)) + ` \(\d+\.\d MiB\): \d+\.\ds`)
	if n := len(draw.FindAllString(tty, -1)); n < 2 {
		t.Errorf("terminal %q: %d progress lines, want it drawn and redrawn", tty, n)
	}
	final := regexp.MustCompile(`\r\x1b\[Kwasmrun: compiled ` + regexp.QuoteMeta(wasm) + ` \(\d+\.\d MiB\) in [0-9.]+s; cached in ` +
		regexp.QuoteMeta(cache) + `, the next start is fast\r\n`)
	if !final.MatchString(tty) {
		t.Errorf("terminal %q: no final line over the progress line", tty)
	}
}

func TestProgressRun(t *testing.T) {
	t.Parallel()
	wasm := slowWasm(t)
	cache := t.TempDir()
	r := startOnPty(t, command(context.Background(), "run", "--cache-dir", cache, wasm))
	code, tty := r.wait(t)
	if code != 0 {
		t.Fatalf("exit %d; terminal %q", code, tty)
	}
	wantProgress(t, tty, wasm, cache)

	r = startOnPty(t, command(context.Background(), "run", "--cache-dir", cache, wasm))
	if code, tty := r.wait(t); code != 0 || tty != "" {
		t.Errorf("a start from the cache: exit %d, terminal %q; want 0 and nothing", code, tty)
	}

	res := run(t, nil, "run", "--verbose", "--cache-dir", cache, wasm)
	mustExit(t, res, 0)
	if !regexp.MustCompile(`(?m)^wasmrun: module ` + regexp.QuoteMeta(wasm) + ` compiled or read from the cache in \d+ms$`).MatchString(res.stderr) {
		t.Errorf("--verbose: no compile time in\n%s", res.stderr)
	}

	code, stderr := stderrOf(t, command(context.Background(), "run", "--cache-dir", t.TempDir(), wasm))
	if code != 0 || !regexp.MustCompile(`^wasmrun: compiled `+regexp.QuoteMeta(wasm)+` \(\d+\.\d MiB\) in [0-9.]+s; cached in .*\n$`).MatchString(stderr) {
		t.Errorf("not a terminal: exit %d, stderr %q; want 0 and the final line alone", code, stderr)
	}

	// Ctrl-C: the terminal sends SIGINT to the foreground group.
	r = startOnPty(t, command(context.Background(), "run", "--cache-dir", t.TempDir(), wasm))
	r.waitFor(t, "wasmrun: compiling")
	syscall.Kill(-r.cmd.Process.Pid, syscall.SIGINT)
	if code, tty := r.wait(t); code != 130 {
		t.Errorf("Ctrl-C during the compile: exit %d, want 130; terminal %q", code, tty)
	}
}

func TestProgressOS(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	wasm := slowWasm(t)
	app := e.app1(wasm)
	appWasm := filepath.Join(app, "app.wasm")
	cache := t.TempDir()
	r := startOnPty(t, e.command(context.Background(), "os", "--cache-dir", cache, app))
	code, tty := r.wait(t)
	if code != 0 {
		t.Fatalf("exit %d; terminal %q", code, tty)
	}
	wantProgress(t, tty, appWasm, cache)

	r = startOnPty(t, e.command(context.Background(), "os", "--cache-dir", cache, app))
	if code, tty := r.wait(t); code != 0 || tty != "" {
		t.Errorf("a start from the cache: exit %d, terminal %q; want 0 and nothing", code, tty)
	}
	res := e.run("os", "--verbose", "--cache-dir", cache, app)
	mustExit(t, res, 0)
	if !regexp.MustCompile(`(?m)^wasmrun: container .*compiled or read from the cache in \d+ms\)$`).MatchString(res.stderr) {
		t.Errorf("--verbose: no compile time in\n%s", res.stderr)
	}

	code, stderr := stderrOf(t, e.command(context.Background(), "os", "--cache-dir", t.TempDir(), app))
	if code != 0 || !regexp.MustCompile(`^wasmrun: compiled `+regexp.QuoteMeta(appWasm)+` \(\d+\.\d MiB\) in [0-9.]+s; cached in .*\n$`).MatchString(stderr) {
		t.Errorf("not a terminal: exit %d, stderr %q; want 0 and the final line alone", code, stderr)
	}

	// Ctrl-C reaches wasmrun and the container process that compiles.
	r = startOnPty(t, e.command(context.Background(), "os", "--cache-dir", t.TempDir(), app))
	r.waitFor(t, "wasmrun: compiling")
	syscall.Kill(-r.cmd.Process.Pid, syscall.SIGINT)
	if code, tty := r.wait(t); code != 130 {
		t.Errorf("Ctrl-C during the compile: exit %d, want 130; terminal %q", code, tty)
	}
	e.noLeaks()
}
