package runner

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestProgressTerminal: on a terminal, a compile slower than SlowCompile
// shows a line redrawn in place with the time so far (\r, erase to the
// end of the line), then the final line over it; the same module read back
// from the cache, fast, writes nothing at all.
func TestProgressTerminal(t *testing.T) {
	wasm := buildGo(t)
	defer func(d, tick time.Duration) { SlowCompile, ProgressTick = d, tick }(SlowCompile, ProgressTick)
	SlowCompile, ProgressTick = 20*time.Millisecond, 20*time.Millisecond

	cache := t.TempDir()
	var diag bytes.Buffer
	if d := prepare(t, Options{Path: wasm, CacheDir: cache, Diag: &diag, Progress: true, Terminal: true}); d < 100*time.Millisecond {
		t.Skipf("the compile took %v: too fast to show progress", d)
	}
	out := diag.String()
	draws := regexp.MustCompile(`\r\x1b\[Kwasmrun: compiling hello-go\.wasm \(\d+\.\d MiB\): \d+\.\ds`).FindAllString(out, -1)
	if len(draws) < 2 {
		t.Errorf("%d progress lines in %q, want the line redrawn", len(draws), out)
	}
	final := regexp.MustCompile(`\r\x1b\[Kwasmrun: compiled ` + regexp.QuoteMeta(wasm) + ` \(\d+\.\d MiB\) in [0-9.]+m?s; cached in ` + regexp.QuoteMeta(cache) + `, the next start is fast\n$`)
	if !final.MatchString(out) {
		t.Errorf("output %q does not end with the final line over the progress line", out)
	}
	if strings.Count(out, "\n") != 1 {
		t.Errorf("output %q: want one line feed, at the end", out)
	}

	diag.Reset()
	SlowCompile = time.Second
	prepare(t, Options{Path: wasm, CacheDir: cache, Diag: &diag, Progress: true, Terminal: true})
	if diag.Len() != 0 {
		t.Errorf("a cached start wrote %q, want nothing", diag.String())
	}
}

// TestProgressFailedCompile: an invalid module clears the progress line
// and gets no "compiled" line (its error says what happened).
func TestProgressFailedCompile(t *testing.T) {
	defer func(d time.Duration) { SlowCompile = d }(SlowCompile)
	SlowCompile = time.Nanosecond
	var diag bytes.Buffer
	_, err := Prepare(t.Context(), Options{Path: "bad.wasm", Wasm: []byte("\x00asm\x01\x00\x00\x00\x01\xff\xff"), Diag: &diag, Progress: true})
	if err == nil {
		t.Fatal("Prepare of an invalid module: no error")
	}
	if diag.Len() != 0 {
		t.Errorf("diagnostics %q, want none", diag.String())
	}
}
