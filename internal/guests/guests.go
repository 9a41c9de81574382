// Package guests builds the test suite's WebAssembly guests from source: Go
// (GOOS=wasip1), C (Debian clang-14 + wasi-libc) and Rust (Debian rustc with
// the wasm32-wasi std). Sources live under testdata/{go,c,rust}; builds are
// cached by a hash of the sources and the toolchain's identity in a directory
// under os.TempDir() (see CacheDir), so every test package and every run
// shares them.
//
// It is a test helper only: nothing outside _test.go files may import it.
// It must not know about the wasi host module; tests run the built modules
// however they like (the runner, the wasmrun binary, the shim).
//
//	wasm := guests.Go(t, "files")        // testdata/go/files
//	wasm := guests.C(t, "files")         // testdata/c/files.c
//	wasm := guests.Rust(t, "files")      // testdata/rust/files.rs
//
// A missing toolchain skips the test with the package to install (make test
// installs them through scripts/install-deps.sh). With
// WASMRUN_REQUIRE_TOOLCHAINS set in the environment it fails instead.
package guests

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// RequireEnv, when set to a non-empty value, turns a missing toolchain into a
// test failure instead of a skip (for CI, where nothing may be skipped).
const RequireEnv = "WASMRUN_REQUIRE_TOOLCHAINS"

// ToolchainError says that a toolchain needed to build a guest is missing.
type ToolchainError struct {
	// Tool is what is missing (a command or a target library).
	Tool string
	// Install names the Debian packages that provide it.
	Install string
}

func (e *ToolchainError) Error() string {
	return fmt.Sprintf("%s is missing: install %s (scripts/install-deps.sh does)", e.Tool, e.Install)
}

// Go returns the path of the wasm built from testdata/go/<name> (a main
// package in the nested module wasmrun.test/guests) with GOOS=wasip1
// GOARCH=wasm and the given build tags.
func Go(t testing.TB, name string, tags ...string) string {
	t.Helper()
	return must(t, func() (string, error) { return BuildGo(name, tags...) })
}

// C returns the path of the wasm built from testdata/c/<name>.c with
// clang-14 --target=wasm32-wasi -O2 and extraFlags.
func C(t testing.TB, name string, extraFlags ...string) string {
	t.Helper()
	return must(t, func() (string, error) { return BuildC(name, extraFlags...) })
}

// Rust returns the path of the wasm built from testdata/rust/<name>.rs with
// /usr/bin/rustc --target wasm32-wasi -O (edition 2021).
func Rust(t testing.TB, name string) string {
	t.Helper()
	return must(t, func() (string, error) { return BuildRust(name) })
}

func must(t testing.TB, build func() (string, error)) string {
	t.Helper()
	path, err := build()
	var te *ToolchainError
	switch {
	case errors.As(err, &te) && os.Getenv(RequireEnv) == "":
		t.Skipf("skipping: %v", err)
	case err != nil:
		t.Fatal(err)
	}
	return path
}

// SourceDir is the absolute path of testdata/<lang> ("go", "c" or "rust").
func SourceDir(lang string) string {
	return filepath.Join(pkgDir(), "testdata", lang)
}

// pkgDir is this package's directory, found from the source file's path so
// that callers in any package (with any working directory) can use it.
func pkgDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("guests: cannot locate the package source")
	}
	return filepath.Dir(file)
}
