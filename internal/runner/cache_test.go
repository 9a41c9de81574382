package runner

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cacheEntries lists the files in wazero's per-version subdirectories of a
// cache dir, by path.
func cacheEntries(t testing.TB, dir string) map[string]os.FileInfo {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "wazero-*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]os.FileInfo)
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		m[p] = st
	}
	return m
}

// prepare compiles path with opts and closes it, returning how long it took.
func prepare(t testing.TB, opts Options) time.Duration {
	t.Helper()
	start := time.Now()
	p, err := Prepare(context.Background(), opts)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Errorf("Close: %v", err)
	}
	return elapsed
}

// lines returns the non-empty lines of a diagnostics buffer.
func lines(b *bytes.Buffer) []string {
	return strings.FieldsFunc(b.String(), func(r rune) bool { return r == '\n' })
}

// TestCacheSecondStartDoesNotRecompile compiles a large (Go) module twice
// with the same cache dir. The first compile writes one entry; the second
// must read it: no new file, and the entry is the same file, untouched (a
// recompile would write a new file and rename it over the entry).
func TestCacheSecondStartDoesNotRecompile(t *testing.T) {
	wasm := buildGo(t)
	dir := t.TempDir()
	var diag bytes.Buffer
	opts := Options{Path: wasm, CacheDir: dir, Diag: &diag}

	cold := prepare(t, opts)
	first := cacheEntries(t, dir)
	if len(first) != 1 {
		t.Fatalf("after the first compile the cache holds %d entries, want 1", len(first))
	}
	warm := prepare(t, opts)
	second := cacheEntries(t, dir)
	if len(second) != 1 {
		t.Fatalf("after the second compile the cache holds %d entries, want 1", len(second))
	}
	for p, st := range first {
		st2, ok := second[p]
		if !ok || !os.SameFile(st, st2) || !st.ModTime().Equal(st2.ModTime()) {
			t.Errorf("cache entry %s was rewritten by the second start", filepath.Base(p))
		}
	}
	if diag.Len() != 0 {
		t.Errorf("unexpected diagnostics: %q", diag.String())
	}
	st, _ := os.Stat(wasm)
	t.Logf("%s (%s): cold compile %v, warm start %v (%.0fx faster)",
		filepath.Base(wasm), size(int(st.Size())), cold.Round(time.Millisecond), warm.Round(time.Millisecond),
		float64(cold)/float64(warm))
}

// TestCacheCorrupt damages the cache entry in several ways. Each time the
// next run compiles, works, warns once and repairs the cache; the run after
// is quiet and reads the repaired entry.
func TestCacheCorrupt(t *testing.T) {
	wasm := buildC(t)
	damage := map[string]func([]byte) []byte{
		"empty":     func(b []byte) []byte { return nil },
		"truncated": func(b []byte) []byte { return b[:len(b)/2] },
		"garbled": func(b []byte) []byte {
			return bytes.Repeat([]byte{0xa5}, len(b))
		},
		"code bit flipped": func(b []byte) []byte {
			b[len(b)/2] ^= 0x10
			return b
		},
	}
	for name, f := range damage {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			var diag bytes.Buffer
			opts := Options{Path: wasm, CacheDir: dir, Diag: &diag}
			prepare(t, opts)
			var entry string
			for p := range cacheEntries(t, dir) {
				entry = p
			}
			b, err := os.ReadFile(entry)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(entry, f(b), 0o600); err != nil {
				t.Fatal(err)
			}

			runHello(t, opts)
			if l := lines(&diag); len(l) != 1 || !strings.Contains(l[0], "warning") || !strings.Contains(l[0], "corrupt") {
				t.Errorf("diagnostics %q: want one warning about a corrupt cache", l)
			}
			repaired := cacheEntries(t, dir)
			if len(repaired) != 1 {
				t.Fatalf("after the repair the cache holds %d entries, want 1", len(repaired))
			}

			diag.Reset()
			runHello(t, opts)
			if diag.Len() != 0 {
				t.Errorf("the run after the repair is not quiet: %q", diag.String())
			}
			for p, st := range cacheEntries(t, dir) {
				if !os.SameFile(st, repaired[p]) {
					t.Errorf("the run after the repair rewrote %s", filepath.Base(p))
				}
			}
		})
	}
}

// TestCacheDirUnusable: a cache dir that cannot be created (its parent is a
// regular file) costs one warning and nothing else.
func TestCacheDirUnusable(t *testing.T) {
	wasm := buildC(t)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{file, filepath.Join(file, "cache")} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var diag bytes.Buffer
			runHello(t, Options{Path: wasm, CacheDir: dir, Diag: &diag})
			if l := lines(&diag); len(l) != 1 || !strings.Contains(l[0], "warning") || !strings.Contains(l[0], dir) {
				t.Errorf("diagnostics %q: want one warning naming %s", l, dir)
			}
		})
	}
}

// TestSlowCompileNotice: a compile slower than SlowCompile is reported only
// when Progress is set, in one line with the module, its size, the time
// and where it was cached (TestProgressTerminal: on a terminal).
func TestSlowCompileNotice(t *testing.T) {
	wasm := buildC(t)
	defer func(d time.Duration) { SlowCompile = d }(SlowCompile)
	SlowCompile = time.Nanosecond

	var diag bytes.Buffer
	prepare(t, Options{Path: wasm, CacheDir: t.TempDir(), Diag: &diag})
	if diag.Len() != 0 {
		t.Errorf("without Progress: %q, want nothing", diag.String())
	}

	for _, tc := range []struct{ cacheDir, want string }{
		{t.TempDir(), "cached in "},
		{"", "not cached"},
	} {
		diag.Reset()
		prepare(t, Options{Path: wasm, CacheDir: tc.cacheDir, Diag: &diag, Progress: true})
		l := lines(&diag)
		if len(l) != 1 {
			t.Fatalf("with Progress: %q, want one line", l)
		}
		for _, want := range []string{wasm, "KiB", " in ", tc.want + tc.cacheDir} {
			if !strings.Contains(l[0], want) {
				t.Errorf("notice %q does not contain %q", l[0], want)
			}
		}
	}

	SlowCompile = time.Hour
	diag.Reset()
	prepare(t, Options{Path: wasm, Diag: &diag, Progress: true})
	if diag.Len() != 0 {
		t.Errorf("a fast compile with Progress: %q, want nothing", diag.String())
	}
}
