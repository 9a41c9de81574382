package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestHelloModule is the control for TestCLIErrors: the hand-made module
// runs and prints, so an error below is about the one thing changed.
func TestHelloModule(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hello.wasm")
	writeFile(t, path, string(helloModule()))
	r := run(t, nil, "run", path)
	mustExit(t, r, 0)
	if r.stdout != "ran\n" || r.stderr != "" {
		t.Fatalf("stdout %q stderr %q, want \"ran\\n\" and nothing", r.stdout, r.stderr)
	}
}

// TestCLIErrors: a module wasmrun cannot run gives one line on stderr
// naming the module and the problem, exit code 125, and the guest never
// runs (nothing on stdout).
func TestCLIErrors(t *testing.T) {
	noop := funcType{}
	cases := []struct {
		name string
		// module is the file's content; nil: no file.
		module []byte
		// want must appear in the error line.
		want []string
	}{
		{"missing file", nil, []string{"no such file"}},
		{"not wasm", []byte("hello, I am text\n"), []string{"not a WebAssembly"}},
		{"empty file", []byte{}, []string{"not a WebAssembly"}},
		{"no _start", []byte("\x00asm\x01\x00\x00\x00"), []string{"_start"}},
		{"invalid module", []byte("\x00asm\x01\x00\x00\x00\x01\xff\xff"), nil},
		{"unknown wasi import", helloModule(wasmImport{"wasi_snapshot_preview1", "no_such_function", noop}),
			[]string{"wasi_snapshot_preview1.no_such_function"}},
		{"wrong signature", helloModule(wasmImport{"wasi_snapshot_preview1", "fd_close", funcType{[]byte{i64}, []byte{i32}}}),
			[]string{"wasi_snapshot_preview1.fd_close", "(i64)->i32"}},
		{"unknown module", helloModule(wasmImport{"env", "frobnicate", noop}), []string{"env", "frobnicate"}},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "mod.wasm")
			if c.module != nil {
				writeFile(t, path, string(c.module))
			}
			r := run(t, nil, "run", path)
			mustExit(t, r, 125)
			if r.stdout != "" {
				t.Errorf("the guest ran: stdout %q", r.stdout)
			}
			if !regexp.MustCompile(`^[^\n]+\n$`).MatchString(r.stderr) {
				t.Fatalf("stderr is not exactly one line: %q", r.stderr)
			}
			for _, w := range append([]string{path}, c.want...) {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q does not name %q", r.stderr, w)
				}
			}
		})
	}
}

// TestCLIUsageErrors: bad command lines are one line and 125 too.
func TestCLIUsageErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	writeFile(t, file, "")
	cases := map[string][]string{
		"no module":       {"run"},
		"unknown flag":    {"run", "--frobnicate", "x.wasm"},
		"dir missing":     {"run", "--dir", filepath.Join(dir, "nope"), "x.wasm"},
		"dir is a file":   {"run", "--dir", file, "x.wasm"},
		"flag needs arg":  {"run", "x.wasm", "--dir"},
		"unknown command": {"frobnicate"},
	}
	for name, args := range cases {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			t.Parallel()
			r := run(t, nil, args...)
			mustExit(t, r, 125)
			if !regexp.MustCompile(`^[^\n]+\n$`).MatchString(r.stderr) || r.stdout != "" {
				t.Fatalf("want one line on stderr and nothing on stdout; got stdout %q stderr %q", r.stdout, r.stderr)
			}
		})
	}
}

// TestVersion: `wasmrun version` prints "wasmrun VERSION".
func TestVersion(t *testing.T) {
	r := run(t, nil, "version")
	mustExit(t, r, 0)
	if !regexp.MustCompile(`^wasmrun \S+\n$`).MatchString(r.stdout) {
		t.Fatalf("stdout %q, want \"wasmrun VERSION\\n\"", r.stdout)
	}
}

// TestFlagsAroundModule: flags of run may come before or after MODULE;
// after "--" everything goes to the guest.
func TestFlagsAroundModule(t *testing.T) {
	args := guestsFor(t, "args_env_exit")
	files := guestsFor(t, "files")
	t.Run("dir_before", func(t *testing.T) {
		dir := t.TempDir()
		r := run(t, nil, "run", "--dir", dir+":/data", files, "--", "/data", "3")
		mustExit(t, r, 0)
		if _, err := os.Stat(filepath.Join(dir, "work", "b.txt")); err != nil {
			t.Fatalf("guest's file not in the --dir: %v", err)
		}
	})
	t.Run("dir_after", func(t *testing.T) {
		dir := t.TempDir()
		r := run(t, nil, "run", files, "--dir", dir+":/data", "--", "/data", "3")
		mustExit(t, r, 0)
		if _, err := os.Stat(filepath.Join(dir, "work", "b.txt")); err != nil {
			t.Fatalf("guest's file not in the --dir: %v", err)
		}
	})
	t.Run("dir_same_path", func(t *testing.T) {
		dir := t.TempDir()
		r := run(t, nil, "run", files, "--dir="+dir, "--", dir, "3")
		mustExit(t, r, 0)
		if _, err := os.Stat(filepath.Join(dir, "work", "b.txt")); err != nil {
			t.Fatalf("guest's file not in the --dir: %v", err)
		}
	})
	t.Run("env_after_and_positional_args", func(t *testing.T) {
		r := run(t, nil, "run", args, "--env", "GREETING=hi", "0", "a", "--", "--env", "b")
		mustExit(t, r, 0)
		for _, w := range []string{"argc 5", "arg 1 [0]", "arg 2 [a]", "arg 3 [--env]", "arg 4 [b]", "lookup GREETING [hi]"} {
			if !strings.Contains(r.stdout, w+"\n") {
				t.Errorf("no %q in stdout:\n%s", w, r.stdout)
			}
		}
	})
}

// guestsFor builds the C version of a guest (the quickest to build and
// start) for tests about the CLI rather than a language.
func guestsFor(t *testing.T, guest string) string {
	for _, l := range langs {
		if l.name == "c" {
			return l.build(t, guest)
		}
	}
	t.Fatal("no C guests")
	return ""
}

// TestTrap: a guest that traps makes wasmrun exit 134 (as a native
// program that aborts), saying so on stderr.
func TestTrap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trap.wasm")
	writeFile(t, path, string(commandModule(trapBody)))
	r := run(t, nil, "run", path)
	mustExit(t, r, 134)
	if !strings.Contains(r.stderr, "unreachable") {
		t.Fatalf("stderr does not name the trap: %q", r.stderr)
	}
}
