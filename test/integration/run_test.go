package integration

import (
	"bytes"
	"crypto/rand"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestArgsEnvExit: arguments (spaces, UTF-8, empty), --env, stderr, and the
// guest's exit code as wasmrun's, for 0, 1 and 42.
func TestArgsEnvExit(t *testing.T) {
	forEachLang(t, true, func(t *testing.T, l lang) {
		wasm := l.build(t, "args_env_exit")
		for _, code := range []int{0, 1, 42} {
			c := strconv.Itoa(code)
			r := run(t, nil, "run", "--env", "A=1", "--env", "GREETING=hello world", wasm, "--", c, "x y", "ünïcødé", "", "--dir")
			mustExit(t, r, code)
			want := []string{
				"argc 6",
				"arg 0 [" + filepath.Base(wasm) + "]",
				"arg 1 [" + c + "]",
				"arg 2 [x y]",
				"arg 3 [ünïcødé]",
				"arg 4 []",
				"arg 5 [--dir]",
				"env [A=1]",
				"env [GREETING=hello world]",
				"lookup GREETING [hello world]",
			}
			if got := lines(r.stdout); !slices.Equal(got, want) {
				t.Errorf("exit %d: stdout:\n%s\nwant:\n%s", code, r.stdout, strings.Join(want, "\n"))
			}
			if r.stderr != "to stderr\n" {
				t.Errorf("exit %d: stderr %q, want %q", code, r.stderr, "to stderr\n")
			}
		}
	})
}

// TestNoEnv: a guest sees no environment unless --env gives one.
func TestNoEnv(t *testing.T) {
	forEachLang(t, true, func(t *testing.T, l lang) {
		r := run(t, nil, "run", l.build(t, "args_env_exit"))
		mustExit(t, r, 0)
		for _, line := range lines(r.stdout) {
			if strings.HasPrefix(line, "env ") {
				t.Errorf("unexpected environment: %s", line)
			}
		}
	})
}

// TestCat pipes 1 MiB of random bytes through the guest's stdin and stdout.
func TestCat(t *testing.T) {
	in := make([]byte, 1<<20)
	rand.Read(in)
	forEachLang(t, true, func(t *testing.T, l lang) {
		r := run(t, bytes.NewReader(in), "run", l.build(t, "cat"))
		mustExit(t, r, 0)
		if r.stdout != string(in) {
			t.Errorf("stdout: %d bytes differ from the %d bytes of stdin", len(r.stdout), len(in))
		}
		if want := "copied 1048576\n"; r.stderr != want {
			t.Errorf("stderr %q, want %q", r.stderr, want)
		}
	})
}

// TestCatFiles: stdin and stdout that are regular files, not pipes.
func TestCatFiles(t *testing.T) {
	in := make([]byte, 300<<10)
	rand.Read(in)
	forEachLang(t, true, func(t *testing.T, l lang) {
		dir := t.TempDir()
		inPath, outPath := filepath.Join(dir, "in"), filepath.Join(dir, "out")
		writeFile(t, inPath, string(in))
		stdin := openFile(t, inPath)
		wasm := l.build(t, "cat")
		ctx, cancel := testContext()
		defer cancel()
		cmd := command(ctx, "run", wasm)
		cmd.Stdin = stdin
		cmd.Stdout = createFile(t, outPath)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v: %s", err, stderr.String())
		}
		if got := readFile(t, outPath); got != string(in) {
			t.Errorf("out file: %d bytes differ from the %d bytes of the in file", len(got), len(in))
		}
	})
}
