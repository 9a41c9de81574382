package guests

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
)

// CacheDir is the directory holding built guests, named
// <name>-<lang>-<hash>.wasm: os.TempDir()/wasmrun-guests-cache, with the
// user id appended for users other than root (so that users do not share,
// or fight over, one directory).
func CacheDir() string {
	name := "wasmrun-guests-cache"
	if uid := os.Getuid(); uid != 0 {
		name = fmt.Sprintf("%s-%d", name, uid)
	}
	return filepath.Join(os.TempDir(), name)
}

// rustc is always Debian's: another rustc (rustup's, without the wasm32-wasi
// std) may come first on PATH.
const rustc = "/usr/bin/rustc"

// Where Debian puts the C and Rust wasm32-wasi libraries; their absence means
// the compiler is there but cannot build for wasm.
const (
	wasiLibc       = "/usr/lib/wasm32-wasi/libc.a"
	clangRTGlob    = "/usr/lib/llvm-14/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a"
	rustWasiStdDir = "/usr/lib/rustlib/wasm32-wasi/lib"
)

// BuildGo builds testdata/go/<name>; see Go.
func BuildGo(name string, tags ...string) (string, error) {
	id, err := goIdentity()
	if err != nil {
		return "", err
	}
	args := []string{"build", "-trimpath"}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	return build("go", name, id, func(out string) *exec.Cmd {
		cmd := exec.Command("go", append(args, "-o", out, "./"+name)...)
		cmd.Dir = SourceDir("go")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOWORK=off")
		return cmd
	}, args...)
}

// BuildC builds testdata/c/<name>.c; see C.
func BuildC(name string, extraFlags ...string) (string, error) {
	id, err := clangIdentity()
	if err != nil {
		return "", err
	}
	args := append([]string{"--target=wasm32-wasi", "-O2", "-Wall"}, extraFlags...)
	return build("c", name, id, func(out string) *exec.Cmd {
		cmd := exec.Command("clang-14", append(args, "-o", out, name+".c")...)
		cmd.Dir = SourceDir("c")
		return cmd
	}, args...)
}

// BuildRust builds testdata/rust/<name>.rs; see Rust.
func BuildRust(name string) (string, error) {
	id, err := rustIdentity()
	if err != nil {
		return "", err
	}
	args := []string{"--edition", "2021", "--target", "wasm32-wasi", "-O"}
	return build("rust", name, id, func(out string) *exec.Cmd {
		cmd := exec.Command(rustc, append(args, "-o", out, name+".rs")...)
		cmd.Dir = SourceDir("rust")
		return cmd
	}, args...)
}

// build returns the cached module for (lang, name, toolchain, args, the
// sources of lang), building it with cmd(out) first when it is missing.
// Concurrent builders, in this process or others, take an flock on the
// entry so the work is done once; the result is renamed into place so
// nobody ever sees a partial file.
func build(lang, name, toolchain string, cmd func(out string) *exec.Cmd, args ...string) (string, error) {
	key, err := cacheKey(lang, name, toolchain, args)
	if err != nil {
		return "", err
	}
	dir := CacheDir()
	final := filepath.Join(dir, fmt.Sprintf("%s-%s-%s.wasm", name, lang, key))
	if _, err := os.Stat(final); err == nil {
		return final, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create guest cache: %w", err)
	}
	unlock, err := lockFile(strings.TrimSuffix(final, ".wasm") + ".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(final); err == nil {
		return final, nil // built by someone else while we waited
	}
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", fmt.Errorf("create guest build dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, name+".wasm")
	c := cmd(out)
	var output bytes.Buffer
	c.Stdout, c.Stderr = &output, &output
	if err := c.Run(); err != nil {
		return "", fmt.Errorf("build %s guest %s: %s: %w\n%s", lang, name, strings.Join(c.Args, " "), err, output.String())
	}
	if err := os.Rename(out, final); err != nil {
		return "", fmt.Errorf("store %s guest %s: %w", lang, name, err)
	}
	return final, nil
}

// cacheKey hashes everything a build depends on: the language's whole
// source tree (guests may share files: headers, Go packages, go.sum), the
// toolchain identity and the arguments.
func cacheKey(lang, name, toolchain string, args []string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%q\x00", lang, name, toolchain, args)
	root := SourceDir(lang)
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash %s guest sources: %w", lang, err)
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("hash %s guest sources: %w", lang, err)
		}
		rel, _ := filepath.Rel(root, f)
		fmt.Fprintf(h, "%s\x00%d\x00", rel, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:20], nil
}

// lockFile takes an exclusive flock on path (created if needed).
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock guest cache: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock guest cache %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// The toolchain identities are computed once per process.
var (
	goIdentity = sync.OnceValues(func() (string, error) {
		if _, err := exec.LookPath("go"); err != nil {
			return "", &ToolchainError{Tool: "go (Go >= 1.21 for GOOS=wasip1)", Install: "Go from https://go.dev/dl"}
		}
		return commandIdentity("go", "env", "GOVERSION", "GOROOT")
	})
	clangIdentity = sync.OnceValues(func() (string, error) {
		if _, err := exec.LookPath("clang-14"); err != nil {
			return "", &ToolchainError{Tool: "clang-14", Install: "clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32"}
		}
		if _, err := os.Stat(wasiLibc); err != nil {
			return "", &ToolchainError{Tool: "wasi-libc (" + wasiLibc + ")", Install: "wasi-libc"}
		}
		if m, _ := filepath.Glob(clangRTGlob); len(m) == 0 {
			return "", &ToolchainError{Tool: "compiler-rt for wasm32 (" + clangRTGlob + ")", Install: "libclang-rt-14-dev-wasm32"}
		}
		if _, err := exec.LookPath("wasm-ld-14"); err != nil {
			return "", &ToolchainError{Tool: "wasm-ld-14", Install: "lld-14"}
		}
		id, err := commandIdentity("clang-14", "--version")
		if err != nil {
			return "", err
		}
		return id + fileIdentity(wasiLibc), nil
	})
	rustIdentity = sync.OnceValues(func() (string, error) {
		if _, err := os.Stat(rustc); err != nil {
			return "", &ToolchainError{Tool: rustc, Install: "rustc libstd-rust-dev-wasm32"}
		}
		if _, err := os.Stat(rustWasiStdDir); err != nil {
			return "", &ToolchainError{Tool: "Rust std for wasm32-wasi (" + rustWasiStdDir + ")", Install: "libstd-rust-dev-wasm32"}
		}
		id, err := commandIdentity(rustc, "-vV")
		if err != nil {
			return "", err
		}
		return id + fileIdentity(rustWasiStdDir), nil
	})
)

// commandIdentity is the output of a version command.
func commandIdentity(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("run %s %s: %w: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// fileIdentity changes when a package upgrade replaces path.
func fileIdentity(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return path + ": missing"
	}
	return fmt.Sprintf("%s:%d:%d", path, st.Size(), st.ModTime().UnixNano())
}
