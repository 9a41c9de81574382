package runner

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The runner's tests build their own two guests (a small C one and a large
// Go one) so that they do not depend on the shared test guests.

// helloC prints "hello" with write(2) only (fd_write, proc_exit) and exits
// with 42, so it runs on any host module that has those two.
const helloC = `#include <unistd.h>
int main(void) { write(1, "hello\n", 6); return 42; }
`

// helloGo is a ~2 MB module: slow enough to compile that a cache hit shows.
const helloGo = `package main

import "fmt"

func main() { fmt.Println("hello") }
`

type built struct {
	once sync.Once
	path string
	err  error
	skip string
}

var cGuest, goGuest built

// buildC returns the path of helloC built with clang-14 for wasm32-wasi.
func buildC(t testing.TB) string {
	t.Helper()
	return cGuest.get(t, func(dir string) (string, string, error) {
		clang, err := exec.LookPath("clang-14")
		if err != nil {
			return "", "clang-14 is missing (install clang-14 and wasi-libc)", nil
		}
		src := filepath.Join(dir, "hello.c")
		out := filepath.Join(dir, "hello-c.wasm")
		if err := os.WriteFile(src, []byte(helloC), 0o644); err != nil {
			return "", "", err
		}
		return out, "", runCmd(t, exec.Command(clang, "--target=wasm32-wasi", "-O2", "-o", out, src))
	})
}

// buildGo returns the path of helloGo built with GOOS=wasip1 GOARCH=wasm.
func buildGo(t testing.TB) string {
	t.Helper()
	return goGuest.get(t, func(dir string) (string, string, error) {
		goBin, err := exec.LookPath("go")
		if err != nil {
			return "", "go is missing", nil
		}
		src := filepath.Join(dir, "gohello")
		if err := os.MkdirAll(src, 0o755); err != nil {
			return "", "", err
		}
		if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module gohello\n\ngo 1.21\n"), 0o644); err != nil {
			return "", "", err
		}
		if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(helloGo), 0o644); err != nil {
			return "", "", err
		}
		out := filepath.Join(dir, "hello-go.wasm")
		cmd := exec.Command(goBin, "build", "-o", out, ".")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOWORK=off", "GOFLAGS=-mod=mod")
		return out, "", runCmd(t, cmd)
	})
}

func (b *built) get(t testing.TB, build func(dir string) (path, skip string, err error)) string {
	t.Helper()
	b.once.Do(func() {
		b.path, b.skip, b.err = build(buildDir)
	})
	switch {
	case b.skip != "" && os.Getenv("WASMRUN_REQUIRE_TOOLCHAINS") == "":
		t.Skipf("skipping: %s", b.skip)
	case b.skip != "":
		t.Fatal(b.skip)
	case b.err != nil:
		t.Fatal(b.err)
	}
	return b.path
}

func runCmd(t testing.TB, cmd *exec.Cmd) error {
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Logf("%s:\n%s", cmd, out)
		return err
	}
	return nil
}

// buildDir holds the guests for the whole test binary.
var buildDir string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "runner-guests-")
	if err != nil {
		panic(err)
	}
	buildDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}
