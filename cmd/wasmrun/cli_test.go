package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wasmrun/wasmrun/internal/runner"
	"github.com/wasmrun/wasmrun/internal/version"
)

// result is one call of run.
type result struct {
	code           int
	stdout, stderr string
}

// call runs the CLI with args, empty stdin, and files for stdout and stderr
// (the guest's stdio must be real files).
func call(t *testing.T, args ...string) result {
	t.Helper()
	dir := t.TempDir()
	stdin, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	files := make([]*os.File, 2)
	for i, name := range []string{"stdout", "stderr"} {
		if files[i], err = os.Create(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		defer files[i].Close()
	}
	code := run(args, stdin, files[0], files[1])
	out, _ := os.ReadFile(files[0].Name())
	errOut, _ := os.ReadFile(files[1].Name())
	return result{code, string(out), string(errOut)}
}

// oneLine checks that s is exactly one line containing each of want.
func oneLine(t *testing.T, what, s string, want ...string) {
	t.Helper()
	if strings.Count(s, "\n") != 1 || !strings.HasSuffix(s, "\n") {
		t.Errorf("%s %q: want exactly one line", what, s)
	}
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s %q does not contain %q", what, s, w)
		}
	}
}

func TestVersionAndHelp(t *testing.T) {
	for _, arg := range []string{"version", "--version"} {
		r := call(t, arg)
		if r.code != 0 || r.stdout != "wasmrun "+version.Version+"\n" || r.stderr != "" {
			t.Errorf("wasmrun %s = %+v", arg, r)
		}
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}, {"run", "--help"}, {"run", "m.wasm", "-h"}} {
		r := call(t, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "wasmrun run [flags] MODULE") || r.stderr != "" {
			t.Errorf("wasmrun %q = %+v, want the usage on stdout", args, r)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	r := call(t)
	if r.code != ExitFailure || !strings.Contains(r.stderr, "Usage:") || r.stdout != "" {
		t.Errorf("wasmrun without arguments = %+v, want the usage on stderr and %d", r, ExitFailure)
	}
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"frobnicate"}, []string{`unknown command "frobnicate"`, "wasmrun help"}},
		{[]string{"run"}, []string{"missing MODULE"}},
		{[]string{"run", "--bogus", "m.wasm"}, []string{"unknown flag --bogus", "after --"}},
		{[]string{"run", "--dir", "/nonexistent-wasmrun-dir", "m.wasm"}, []string{"--dir /nonexistent-wasmrun-dir"}},
		{[]string{"run", "--no-cache", "/nonexistent/m.wasm"}, []string{"/nonexistent/m.wasm", "no such file"}},
	}
	for _, tc := range tests {
		r := call(t, tc.args...)
		if r.code != ExitFailure || r.stdout != "" {
			t.Errorf("wasmrun %q = %+v, want exit %d and no output", tc.args, r, ExitFailure)
		}
		oneLine(t, "stderr", r.stderr, tc.want...)
	}
}

func TestNotWasm(t *testing.T) {
	p := filepath.Join(t.TempDir(), "hello.wat")
	if err := os.WriteFile(p, []byte("(module)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := call(t, "run", "--no-cache", p)
	if r.code != ExitFailure {
		t.Errorf("exit code %d, want %d", r.code, ExitFailure)
	}
	oneLine(t, "stderr", r.stderr, p, "not a WebAssembly binary")
}

// The guest echoes its arguments and $GREETING, lists its preopen and exits
// with 42; it uses only fd_write, args, environ, fd_prestat and proc_exit.
const guestC = `#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
static void out(const char *s) { write(1, s, strlen(s)); }
int main(int argc, char **argv) {
	for (int i = 1; i < argc; i++) { out(argv[i]); out("\n"); }
	const char *g = getenv("GREETING");
	out("GREETING="); out(g ? g : "(unset)"); out("\n");
	return 42;
}
`

var guest struct {
	once sync.Once
	path string
	err  error
}

func buildGuest(t *testing.T) string {
	t.Helper()
	clang, err := exec.LookPath("clang-14")
	if err != nil {
		if os.Getenv("WASMRUN_REQUIRE_TOOLCHAINS") == "" {
			t.Skip("skipping: clang-14 is missing (install clang-14 and wasi-libc)")
		}
		t.Fatal(err)
	}
	guest.once.Do(func() {
		dir, err := os.MkdirTemp("", "wasmrun-cli-test-")
		if err != nil {
			guest.err = err
			return
		}
		src := filepath.Join(dir, "guest.c")
		guest.path = filepath.Join(dir, "guest.wasm")
		if guest.err = os.WriteFile(src, []byte(guestC), 0o644); guest.err != nil {
			return
		}
		out, err := exec.Command(clang, "--target=wasm32-wasi", "-O2", "-o", guest.path, src).CombinedOutput()
		if err != nil {
			guest.err = &buildError{string(out)}
		}
	})
	if guest.err != nil {
		t.Fatal(guest.err)
	}
	return guest.path
}

type buildError struct{ out string }

func (e *buildError) Error() string { return "build the test guest: " + e.out }

func TestMain(m *testing.M) {
	code := m.Run()
	if guest.path != "" {
		os.RemoveAll(filepath.Dir(guest.path))
	}
	os.Exit(code)
}

func TestRunGuest(t *testing.T) {
	wasm := buildGuest(t)
	t.Setenv("GREETING", "from the host")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no args", []string{"run", "--no-cache", wasm}, "GREETING=(unset)\n"},
		{"flags after module, args after --", []string{"run", wasm, "--no-cache", "--env", "GREETING=hi", "--", "a", "--b"},
			"a\n--b\nGREETING=hi\n"},
		{"env from host", []string{"run", "--env", "GREETING", "--no-cache", wasm, "--", "x"},
			"x\nGREETING=from the host\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, tc.args...)
			if r.code != 42 || r.stdout != tc.want || r.stderr != "" {
				t.Errorf("wasmrun %q = %+v, want exit 42 and stdout %q", tc.args, r, tc.want)
			}
		})
	}
}

// TestCacheDirFlags: --cache-dir and $WASMRUN_CACHE_DIR choose the cache,
// the flag winning; --no-cache uses none.
func TestCacheDirFlags(t *testing.T) {
	wasm := buildGuest(t)
	envDir := filepath.Join(t.TempDir(), "env")
	flagDir := filepath.Join(t.TempDir(), "flag")
	t.Setenv(runner.CacheEnv, envDir)
	used := func(dir string) bool {
		m, _ := filepath.Glob(filepath.Join(dir, "wazero-*", "*"))
		return len(m) > 0
	}

	if r := call(t, "run", "--no-cache", wasm); r.code != 42 || used(envDir) {
		t.Errorf("--no-cache: %+v; cache used: %v", r, used(envDir))
	}
	if r := call(t, "run", "--cache-dir", flagDir, wasm); r.code != 42 || !used(flagDir) || used(envDir) {
		t.Errorf("--cache-dir: %+v; flag dir used: %v, env dir used: %v", r, used(flagDir), used(envDir))
	}
	if r := call(t, "run", wasm); r.code != 42 || !used(envDir) {
		t.Errorf("$%s: %+v; env dir used: %v", runner.CacheEnv, r, used(envDir))
	}
}

// TestCacheUnusable: a cache dir under a regular file is one warning; the
// guest's exit code is unaffected.
func TestCacheUnusable(t *testing.T) {
	wasm := buildGuest(t)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := call(t, "run", "--cache-dir", filepath.Join(file, "cache"), wasm)
	if r.code != 42 || r.stdout != "GREETING=(unset)\n" {
		t.Errorf("result %+v, want the guest's output and exit 42", r)
	}
	oneLine(t, "stderr", r.stderr, "warning", file)
}

// TestCacheCorrupt: a truncated cache entry is one warning, the guest's exit
// code is unaffected, and the next run is quiet again.
func TestCacheCorrupt(t *testing.T) {
	wasm := buildGuest(t)
	cache := t.TempDir()
	if r := call(t, "run", "--cache-dir", cache, wasm); r.code != 42 || r.stderr != "" {
		t.Fatalf("first run: %+v", r)
	}
	entries, _ := filepath.Glob(filepath.Join(cache, "wazero-*", "*"))
	if len(entries) == 0 {
		t.Fatal("the first run left no cache entry")
	}
	for _, e := range entries {
		if err := os.Truncate(e, 10); err != nil {
			t.Fatal(err)
		}
	}
	r := call(t, "run", "--cache-dir", cache, wasm)
	if r.code != 42 || r.stdout != "GREETING=(unset)\n" {
		t.Errorf("run with a corrupt cache: %+v, want the guest's output and exit 42", r)
	}
	oneLine(t, "stderr", r.stderr, "warning", "corrupt", cache)
	if r := call(t, "run", "--cache-dir", cache, wasm); r.code != 42 || r.stderr != "" {
		t.Errorf("run after the repair: %+v, want exit 42 and nothing on stderr", r)
	}
}
