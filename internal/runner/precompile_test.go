package runner

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrecompileMakesRunWarm: Precompile writes the one cache entry that a
// run with the same cache reads: the run after it writes nothing and
// rewrites nothing, and a second Precompile only reads.
func TestPrecompileMakesRunWarm(t *testing.T) {
	wasm := buildC(t)
	dir := filepath.Join(t.TempDir(), "cache") // created by Precompile
	res, err := Precompile(context.Background(), Options{Path: wasm, CacheDir: dir})
	if err != nil {
		t.Fatalf("Precompile: %v", err)
	}
	if res.WasCached || res.Size == 0 {
		t.Errorf("first Precompile = %+v, want a compile of a non-empty module", res)
	}
	first := cacheEntries(t, dir)
	if len(first) != 1 {
		t.Fatalf("after Precompile the cache holds %d entries, want 1", len(first))
	}
	var diag bytes.Buffer
	runHello(t, Options{Path: wasm, CacheDir: dir, Diag: &diag})
	second := cacheEntries(t, dir)
	if len(second) != 1 {
		t.Fatalf("after the run the cache holds %d entries, want 1 (the run did not use the precompiled one)", len(second))
	}
	for p, st := range first {
		if st2, ok := second[p]; !ok || !os.SameFile(st, st2) || !st.ModTime().Equal(st2.ModTime()) {
			t.Errorf("cache entry %s was rewritten by the run", filepath.Base(p))
		}
	}
	if diag.Len() != 0 {
		t.Errorf("unexpected diagnostics: %q", diag.String())
	}
	res, err = Precompile(context.Background(), Options{Path: wasm, CacheDir: dir})
	if err != nil || !res.WasCached {
		t.Errorf("second Precompile = %+v, %v; want already cached", res, err)
	}
}

// TestPrecompileErrors: what a run shrugs off (no cache, an unusable one)
// is an error here, as is a module that is not WebAssembly.
func TestPrecompileErrors(t *testing.T) {
	wasm := buildC(t)
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(t.TempDir(), "junk.wasm")
	if err := os.WriteFile(junk, []byte("not wasm"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, cache, want string
	}{
		{"no cache dir", wasm, "", "no compiled-module cache directory"},
		{"cache dir is a file", wasm, notDir, "unusable"},
		{"not wasm", junk, t.TempDir(), "not a WebAssembly binary"},
		{"missing", filepath.Join(t.TempDir(), "none.wasm"), t.TempDir(), "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Precompile(context.Background(), Options{Path: tc.path, CacheDir: tc.cache})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Precompile = %v, want an error with %q", err, tc.want)
			}
		})
	}
}
