package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/guests"
	"github.com/wasmrun/wasmrun/internal/runner"
	"github.com/wasmrun/wasmrun/internal/testpty"
)

// runOnPty runs wasmrun with args and a terminal as stderr, and returns
// the exit code and what reached the terminal.
func runOnPty(t *testing.T, args ...string) (int, string) {
	t.Helper()
	master, slave := testpty.Open(t)
	out, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	// The master is read while wasmrun writes: a pty holds a few KiB.
	read := make(chan string)
	go func() {
		var buf bytes.Buffer
		io.Copy(&buf, master) // ends with EIO once the slave is closed and drained
		read <- buf.String()
	}()
	code := run(args, nil, out, slave)
	slave.Close()
	return code, <-read
}

// TestProgressSlowCompile: a compile slower than the threshold shows, on a
// terminal, a progress line redrawn in place (module name, size, seconds
// so far), which the final line replaces; a start from the cache, fast,
// prints nothing at all. Not on a terminal, the final line alone.
func TestProgressSlowCompile(t *testing.T) {
	defer func(d, tick time.Duration) { runner.SlowCompile, runner.ProgressTick = d, tick }(runner.SlowCompile, runner.ProgressTick)
	runner.SlowCompile, runner.ProgressTick = 50*time.Millisecond, 20*time.Millisecond

	wasm := filepath.Join(t.TempDir(), "slow.wasm")
	if err := os.WriteFile(wasm, guests.SlowCompile(40), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	start := time.Now()
	code, tty := runOnPty(t, "run", "--cache-dir", cache, wasm)
	if code != 0 {
		t.Fatalf("exit code %d, want 0; terminal: %q", code, tty)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Skipf("the compile took %v: too fast to show progress", d)
	}
	draw := regexp.MustCompile(`\r\x1b\[Kwasmrun: compiling slow\.wasm \(\d+\.\d KiB\): \d+\.\ds`)
	if n := len(draw.FindAllString(tty, -1)); n < 2 {
		t.Errorf("terminal %q: %d progress lines, want it drawn and redrawn", tty, n)
	}
	// The terminal turns the final \n into \r\n.
	final := regexp.MustCompile(`\r\x1b\[Kwasmrun: compiled ` + regexp.QuoteMeta(wasm) + ` \(\d+\.\d KiB\) in [0-9.]+m?s; cached in ` +
		regexp.QuoteMeta(cache) + `, the next start is fast\r\n$`)
	if !final.MatchString(tty) {
		t.Errorf("terminal %q: does not end with the final line over the progress line", tty)
	}
	if strings.Count(tty, "\n") != 1 {
		t.Errorf("terminal %q: want one line feed", tty)
	}

	runner.SlowCompile = time.Second
	if code, tty := runOnPty(t, "run", "--cache-dir", cache, wasm); code != 0 || tty != "" {
		t.Errorf("a start from the cache: exit %d, terminal %q; want 0 and nothing", code, tty)
	}

	runner.SlowCompile = 50 * time.Millisecond
	r := call(t, "run", "--cache-dir", t.TempDir(), wasm)
	if r.code != 0 {
		t.Errorf("not a terminal: exit %d, want 0", r.code)
	}
	oneLine(t, "not a terminal: stderr", r.stderr, "wasmrun: compiled "+wasm+" (", "KiB) in ", "; cached in ")
	if strings.ContainsAny(r.stderr, "\r\x1b") {
		t.Errorf("not a terminal: stderr %q has terminal controls", r.stderr)
	}
}

// TestSlowCompileNotice: a first compile is reported in one line, on a
// terminal as elsewhere, with the module, its size and the cache.
func TestSlowCompileNotice(t *testing.T) {
	wasm := buildGuest(t)
	defer func(d time.Duration) { runner.SlowCompile = d }(runner.SlowCompile)
	runner.SlowCompile = time.Nanosecond

	r := call(t, "run", "--cache-dir", t.TempDir(), wasm)
	if r.code != 42 {
		t.Errorf("stderr not a terminal: %+v, want exit 42", r)
	}
	oneLine(t, "stderr not a terminal", r.stderr, "wasmrun: compiled "+wasm, "KiB", "cached in ")

	cache := t.TempDir()
	code, tty := runOnPty(t, "run", "--cache-dir", cache, wasm)
	if code != 42 {
		t.Errorf("exit code %d, want 42", code)
	}
	// What stays on the terminal: the text after the last erase.
	if i := strings.LastIndex(tty, "\r\x1b[K"); i >= 0 {
		tty = tty[i+len("\r\x1b[K"):]
	}
	notice := strings.TrimRight(tty, "\r\n")
	if strings.ContainsAny(notice, "\r\n") {
		t.Errorf("notice %q: want one line", notice)
	}
	for _, want := range []string{"wasmrun: compiled " + wasm, "KiB", "cached in " + cache} {
		if !strings.Contains(notice, want) {
			t.Errorf("notice %q does not contain %q", notice, want)
		}
	}
}
