package runner

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// emptyModule is a valid module with nothing in it (no _start).
var emptyModule = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// TestModuleErrors checks that each problem with the module file is one line
// naming the file and the problem, with or without a cache.
func TestModuleErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A module section id 0x7f does not exist.
	invalid := write("invalid.wasm", append(append([]byte{}, emptyModule...), 0x7f, 0x01, 0x00))
	tests := []struct {
		name, path, want string
	}{
		{"missing file", filepath.Join(dir, "nope.wasm"), "no such file"},
		{"directory", dir, "is a directory"},
		{"not wasm", write("text.wat", []byte("(module)\n")), "not a WebAssembly binary"},
		{"empty file", write("empty.wasm", nil), "not a WebAssembly binary"},
		{"invalid wasm", invalid, "invalid WebAssembly"},
		{"no _start", write("lib.wasm", emptyModule), "no _start export"},
	}
	for _, tc := range tests {
		for _, cached := range []bool{false, true} {
			name := tc.name
			if cached {
				name += "/cached"
			}
			t.Run(name, func(t *testing.T) {
				var diag bytes.Buffer
				opts := Options{Path: tc.path, Diag: &diag}
				if cached {
					opts.CacheDir = t.TempDir()
				}
				p, err := Prepare(context.Background(), opts)
				if err == nil {
					p.Close(context.Background())
					t.Fatal("Prepare succeeded")
				}
				var e *Error
				if !errors.As(err, &e) {
					t.Errorf("error %T is not a *runner.Error", err)
				}
				msg := err.Error()
				if strings.Contains(msg, "\n") || !strings.Contains(msg, tc.path) || !strings.Contains(msg, tc.want) {
					t.Errorf("error %q: want one line naming %s and saying %q", msg, tc.path, tc.want)
				}
				if diag.Len() != 0 {
					t.Errorf("unexpected diagnostics: %q", diag.String())
				}
			})
		}
	}
}

// runHello runs the C guest with opts and checks its output and exit code.
func runHello(t *testing.T, opts Options) {
	t.Helper()
	out, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	opts.Stdout = out
	code, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if code != 42 {
		t.Errorf("exit code %d, want 42", code)
	}
	got, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "hello\n" {
		t.Errorf("stdout %q, want %q", got, "hello\n")
	}
}

// TestRunCachedCode runs a guest compiled fresh, then from the cache: the
// cached machine code must behave the same.
func TestRunCachedCode(t *testing.T) {
	wasm := buildC(t)
	cache := t.TempDir()
	for _, run := range []string{"no cache", "cold cache", "warm cache"} {
		t.Run(run, func(t *testing.T) {
			var diag bytes.Buffer
			opts := Options{Path: wasm, Diag: &diag}
			if run != "no cache" {
				opts.CacheDir = cache
			}
			runHello(t, opts)
			if diag.Len() != 0 {
				t.Errorf("unexpected diagnostics: %q", diag.String())
			}
			if n := len(cacheEntries(t, cache)); run != "no cache" && n != 1 {
				t.Errorf("%d cache entries, want 1", n)
			}
		})
	}
}

func TestTrapExitCode(t *testing.T) {
	// (module (func (export "_start") unreachable))
	trap := []byte{
		0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00,
		0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type: () -> ()
		0x03, 0x02, 0x01, 0x00, // func 0: type 0
		0x07, 0x0a, 0x01, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x00, // export
		0x0a, 0x05, 0x01, 0x03, 0x00, 0x00, 0x0b, // code: unreachable
	}
	code, err := Run(context.Background(), Options{Path: "trap.wasm", Wasm: trap})
	var te *TrapError
	if !errors.As(err, &te) || code != TrapExitCode {
		t.Fatalf("Run = %d, %v; want %d and a *TrapError", code, err, TrapExitCode)
	}
	if !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("trap error %q does not say unreachable", err)
	}
}

func TestDefaultCacheDir(t *testing.T) {
	t.Setenv(CacheEnv, "/some/where")
	if got := DefaultCacheDir(); got != "/some/where" {
		t.Errorf("with $%s: %q", CacheEnv, got)
	}
	t.Setenv(CacheEnv, "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if got := DefaultCacheDir(); got != "/xdg/wasmrun" {
		t.Errorf("with $XDG_CACHE_HOME: %q, want /xdg/wasmrun", got)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "")
	if got := DefaultCacheDir(); got != "" {
		t.Errorf("without a home: %q, want \"\" (no cache)", got)
	}
}

// TestLoadBounded: Load reads only what could be a module: a file larger
// than MaxModuleSize is refused by its size (a sparse one of gigabytes
// costs nothing), one without the header after four bytes; a FIFO at
// once (TestLoadFIFO).
func TestLoadBounded(t *testing.T) {
	dir := t.TempDir()
	huge := filepath.Join(dir, "huge.wasm")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0, 'a', 's', 'm', 1, 0, 0, 0})
	if err := f.Truncate(MaxModuleSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := Load(huge); err == nil || !strings.Contains(err.Error(), "more than wasmrun loads") {
		t.Errorf("a module over the bound: %v", err)
	}
	notWasm := filepath.Join(dir, "not.wasm")
	if err := os.WriteFile(notWasm, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(notWasm); err == nil || !strings.Contains(err.Error(), "no \\0asm header") {
		t.Errorf("not wasm: %v", err)
	}
	small := filepath.Join(dir, "small.wasm")
	want := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	if err := os.WriteFile(small, want, 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := Load(small); err != nil || !bytes.Equal(b, want) {
		t.Errorf("a module: %x, %v", b, err)
	}
}
