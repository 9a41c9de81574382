// Package crossbuild checks, on every test run, that wasmrun still builds
// for the other systems it supports (issue 15): `go build ./cmd/wasmrun`
// and `go vet` of the portable packages for each target, a failure
// reported with the compiler's output; and that the wasi tests pass with
// the system calls macOS makes in place of Linux's own (the darwinemul tag:
// the path walk for openat2, poll(2) and a pipe for ppoll, eventfd and
// timerfd, futimes, append by seek, ...). It holds no code of its own.
package crossbuild

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// targets are the GOOS/GOARCH pairs wasmrun builds for besides Linux.
var targets = []struct{ goos, goarch string }{
	{"darwin", "arm64"},
	{"darwin", "amd64"},
	{"windows", "amd64"},
}

// portable are the packages vetted for every target: the ones whose code
// is shared between systems.
var portable = []string{"./wasi/...", "./internal/runner/...", "./cmd/wasmrun/"}

func TestCrossBuild(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	root := moduleRoot(t)
	for _, tg := range targets {
		t.Run(tg.goos+"-"+tg.goarch, func(t *testing.T) {
			t.Parallel()
			env := append(os.Environ(), "GOOS="+tg.goos, "GOARCH="+tg.goarch, "CGO_ENABLED=0")
			out := filepath.Join(t.TempDir(), "wasmrun")
			build := exec.Command(gobin, "build", "-o", out, "./cmd/wasmrun")
			build.Dir, build.Env = root, env
			if b, err := build.CombinedOutput(); err != nil {
				t.Fatalf("GOOS=%s GOARCH=%s go build ./cmd/wasmrun: %v\n%s", tg.goos, tg.goarch, err, b)
			}
			vet := exec.Command(gobin, append([]string{"vet"}, portable...)...)
			vet.Dir, vet.Env = root, env
			if b, err := vet.CombinedOutput(); err != nil {
				t.Fatalf("GOOS=%s GOARCH=%s go vet %s: %v\n%s", tg.goos, tg.goarch, strings.Join(portable, " "), err, b)
			}
		})
	}
}

// moduleRoot is the directory of wasmrun's go.mod, two levels up.
func moduleRoot(t *testing.T) string {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	return root
}

// TestDarwinEmulSuite runs the wasi tests with the system calls of macOS
// (go test -tags darwinemul ./wasi/...): every path, escape, race, poll and
// file test then checks them, on Linux.
func TestDarwinEmulSuite(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	cmd := exec.Command(gobin, "test", "-count=1", "-tags", "darwinemul", "./wasi/...")
	cmd.Dir, cmd.Env = moduleRoot(t), append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go test -tags darwinemul ./wasi/...: %v\n%s", err, b)
	}
}
