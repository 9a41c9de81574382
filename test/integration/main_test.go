// Package integration runs whole programs through the wasmrun binary: Go, C
// and Rust guests built from source (internal/guests), each started as a
// real child process with real stdio, preopened directories in the test's
// own temporary directory, and assertions on stdout, stderr and the exit
// code.
package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// wasmrun is the binary under test, built once by TestMain; wasmrunInit
// is the container process program next to it.
var wasmrun, wasmrunInit string

// cacheDir is the compiled-module cache shared by every run in this
// package, so that each guest is compiled once.
var cacheDir string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "wasmrun-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	wasmrun = filepath.Join(tmp, "wasmrun")
	wasmrunInit = filepath.Join(tmp, "wasmrun-init")
	cacheDir = filepath.Join(tmp, "cache")
	// The container process program goes next to it, as make build puts it.
	if err := buildBinaries(tmp, "./cmd/wasmrun", "./cmd/wasmrun-init"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// buildBinaries builds the given commands into dir, as the Makefile does.
func buildBinaries(dir string, pkgs ...string) error {
	for _, p := range pkgs {
		build := exec.Command("go", "build", "-o", filepath.Join(dir, filepath.Base(p)), p)
		build.Dir = repoRoot()
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %v\n%s", p, err, out)
		}
	}
	return nil
}

// repoRoot is found from this file's path, so the tests work from any
// working directory.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// lang is one guest language and how to build its guests.
type lang struct {
	name  string
	build func(t testing.TB, guest string) string
}

var langs = []lang{
	{"go", func(t testing.TB, g string) string { return guests.Go(t, g) }},
	{"c", func(t testing.TB, g string) string { return guests.C(t, g) }},
	{"rust", func(t testing.TB, g string) string { return guests.Rust(t, g) }},
}

// forEachLang runs f as one subtest per language.
func forEachLang(t *testing.T, parallel bool, f func(t *testing.T, l lang)) {
	for _, l := range langs {
		t.Run(l.name, func(t *testing.T) {
			if parallel {
				t.Parallel()
			}
			f(t, l)
		})
	}
}

// result is what a finished wasmrun process left behind.
type result struct {
	stdout, stderr string
	code           int
	// cpu is the user+system CPU time of the wasmrun process.
	cpu  time.Duration
	wall time.Duration
}

// runTimeout bounds every run: a hung guest fails its test instead of the
// whole suite.
const runTimeout = 2 * time.Minute

// run starts `wasmrun ARGS...` with stdin (nil: /dev/null), waits for it
// and returns its output and exit code.
func run(t testing.TB, stdin io.Reader, args ...string) result {
	t.Helper()
	return runCommand(t, runTimeout, args, func(ctx context.Context) *exec.Cmd {
		cmd := command(ctx, args...)
		cmd.Stdin = stdin
		return cmd
	})
}

// runCommand runs the wasmrun command that newCmd makes for a context
// that ends after timeout, and returns its output and exit code; it fails
// t if the command does not exit in time or cannot run. args (the
// command's arguments) name it in the messages.
func runCommand(t testing.TB, timeout time.Duration, args []string, newCmd func(context.Context) *exec.Cmd) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := newCmd(ctx)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: withoutCompileNotice(stderr.String()), wall: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("wasmrun %s: no exit after %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), timeout, r.stdout, r.stderr)
	case err == nil, errors.As(err, &exit):
	default:
		t.Fatalf("wasmrun %s: %v", strings.Join(args, " "), err)
	}
	r.code = cmd.ProcessState.ExitCode()
	r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return r
}

// command is an exec.Cmd for wasmrun with the package's cache.
func command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, wasmrun, args...)
	cmd.Env = append(os.Environ(), "WASMRUN_CACHE_DIR="+cacheDir)
	return cmd
}

// mustExit fails unless r exited with code.
func mustExit(t testing.TB, r result, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
}

// lines splits output into lines without the trailing empty one.
func lines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// field returns the value of the first line "KEY VALUE" in out.
func field(t testing.TB, out, key string) string {
	t.Helper()
	for _, l := range lines(out) {
		if v, ok := strings.CutPrefix(l, key+" "); ok {
			return v
		}
	}
	t.Fatalf("no %q line in output:\n%s", key, out)
	return ""
}

// wantFields fails t for each key of want whose "KEY VALUE" line in out
// (see field) has another value.
func wantFields(t testing.TB, out string, want map[string]string) {
	t.Helper()
	for key, w := range want {
		if got := field(t, out, key); got != w {
			t.Errorf("%s: got %q, want %q", key, got, w)
		}
	}
}
