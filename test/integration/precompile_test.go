package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPrecompileRuntimes: what `make runtimes` does after building,
// scripts/build-runtimes.sh --precompile WASMRUN, puts the runtime's
// machine code in the default compiled-module cache ($WASMRUN_CACHE_DIR
// here), so that the first `wasmrun run` and `wasmrun os --language
// nodejs` that use the default cache only read it: the entry is neither
// added to nor rewritten. A second precompile only reads it back.
func TestPrecompileRuntimes(t *testing.T) {
	wasm, _ := nodeWasm(t) // the runtime, built into its shared directory
	rtDir := filepath.Dir(wasm)
	cache := filepath.Join(t.TempDir(), "default-cache")
	env := append(os.Environ(), "WASMRUN_CACHE_DIR="+cache)
	script := filepath.Join(repoRoot(), "scripts", "build-runtimes.sh")

	precompile := func() string {
		t.Helper()
		cmd := exec.Command(script, "--out", rtDir, "--precompile", wasmrun, "nodejs")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("build-runtimes.sh --precompile: %v\n%s", err, out)
		}
		return string(out)
	}
	start := time.Now()
	out := precompile()
	t.Logf("precompile: %s(%v)", out, time.Since(start).Round(time.Millisecond))
	if !strings.Contains(out, "nodejs.wasm: compiled") {
		t.Errorf("build-runtimes.sh --precompile said %q, want a line about compiling nodejs.wasm", out)
	}
	entries := cacheFiles(t, cache)
	if len(entries) != 1 {
		t.Fatalf("the cache holds %d entries after precompiling, want 1", len(entries))
	}
	unchanged := func(after string) {
		t.Helper()
		now := cacheFiles(t, cache)
		if len(now) != 1 {
			t.Fatalf("the cache holds %d entries after %s, want 1 (the precompiled one was not used)", len(now), after)
		}
		for p, st := range entries {
			if st2, ok := now[p]; !ok || !os.SameFile(st, st2) || !st.ModTime().Equal(st2.ModTime()) {
				t.Fatalf("cache entry %s was rewritten by %s", filepath.Base(p), after)
			}
		}
	}

	app := appDir(t, map[string]string{"main.js": "console.log('warm ' + (1 + 1));\n"})
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, wasmrun, "run", "--dir", app+":/app", wasm, "--", "/app/main.js")
	cmd.Env = env
	start = time.Now()
	b, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(b)) != "warm 2" {
		t.Fatalf("wasmrun run: %v, output %q", err, b)
	}
	t.Logf("first wasmrun run after precompiling: %v", time.Since(start).Round(time.Millisecond))
	unchanged("wasmrun run")

	if out := precompile(); !strings.Contains(out, "nodejs.wasm: already cached") {
		t.Errorf("second precompile said %q, want \"already cached\"", out)
	}
	unchanged("the second precompile")

	t.Run("os", func(t *testing.T) {
		e := newOSEnv(t) // skips without root
		dir := e.app(nil, "", "")
		writeFile(t, filepath.Join(dir, "index.js"), "console.log('warm in os');\n")
		ctx, cancel := context.WithTimeout(context.Background(), osTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, wasmrun, "os", "--runtime-dir", rtDir, "--language", "nodejs", dir)
		cmd.Env = append(env, "WASMRUN_STATE_DIR="+e.state)
		start := time.Now()
		b, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(b), "warm in os") {
			t.Fatalf("wasmrun os: %v, output %q", err, b)
		}
		t.Logf("first wasmrun os --language nodejs after precompiling: %v", time.Since(start).Round(time.Millisecond))
		unchanged("wasmrun os")
	})
}

// cacheFiles lists the entries of a compiled-module cache dir (wazero's
// per-version subdirectories) by path.
func cacheFiles(t testing.TB, dir string) map[string]os.FileInfo {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "wazero-*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]os.FileInfo{}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		m[p] = st
	}
	return m
}
