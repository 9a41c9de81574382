package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// WASI errnos of the confinement tests.
const (
	wasiEEXIST = "20"
	wasiEROFS  = "69"
)

// treeHash is a digest of everything under dir: every path with its type,
// mode, size, modification time and content.
func treeHash(t testing.TB, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %v %d %d", strings.TrimPrefix(p, dir), fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			line += " " + hex.EncodeToString(sum[:])
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:])
}

// TestOSAppReadOnly: the app directory is the guest's read-only /. A guest
// that tries to rewrite its own .wasmrun.toml (to give itself the host's /
// on its next start) or its module, or to change the directory in any
// other way (create, truncate, set times, mkdir, rmdir, unlink, rename,
// link its files elsewhere to write them there, symlink), fails with
// EROFS, and the directory is byte for byte what it was; reading still
// works, and its private /tmp is writable (and gone after the run).
func TestOSAppReadOnly(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	app := e.app(map[string]string{"app.wasm": guests.C(t, "tamper")}, "", `deny = ["10.0.0.0/8"]`+"\n")
	writeFile(t, filepath.Join(app, "data.txt"), "data\n")
	if err := os.Mkdir(filepath.Join(app, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := treeHash(t, app)
	steps := []struct{ args, errno string }{
		{"read /.wasmrun.toml", ""},
		{"write /.wasmrun.toml", wasiEROFS},
		{"append /.wasmrun.toml", wasiEROFS},
		{"trunc /.wasmrun.toml", wasiEROFS},
		{"readwrite /.wasmrun.toml", wasiEROFS},
		{"truncate /app.wasm", wasiEROFS},
		{"utimes /app.wasm", wasiEROFS},
		{"create /new.txt", wasiEROFS},
		{"create /sub/new.txt", wasiEROFS},
		{"mkdir /newdir", wasiEROFS},
		{"rmdir /sub", wasiEROFS},
		{"unlink /data.txt", wasiEROFS},
		{"rename /data.txt /.wasmrun.toml", wasiEROFS},
		{"rename /data.txt /tmp/moved", wasiEROFS},
		{"link /.wasmrun.toml /tmp/config", wasiEROFS},
		{"symlink /tmp/x /link", wasiEROFS},
		{"create /tmp/scratch", ""},
		{"create /tmp/scratch", wasiEEXIST},
		{"write /tmp/scratch", ""},
	}
	var args, want []string
	for _, s := range steps {
		args = append(args, strings.Fields(s.args)...)
		if s.errno == "" {
			want = append(want, s.args+" ok")
		} else {
			want = append(want, s.args+" errno "+s.errno)
		}
	}
	r := e.run(append([]string{"os", app, "--"}, args...)...)
	mustExit(t, r, 0)
	if got := strings.Join(lines(r.stdout), "\n"); got != strings.Join(want, "\n") {
		t.Errorf("guest reported:\n%s\nwant:\n%s\nstderr:\n%s", got, strings.Join(want, "\n"), r.stderr)
	}
	if after := treeHash(t, app); after != before {
		t.Errorf("the app directory changed")
	}
	if ents, _ := os.ReadDir(filepath.Join(e.state, "bundles")); len(ents) != 0 {
		t.Errorf("bundles (and the app's /tmp) left: %v", ents)
	}
	e.noLeaks()
}

// TestPythonOSRuntimeReadOnly: the language runtime directory is every
// Python app's read-only /: an app that tries to append to the
// interpreter, add a module to the stdlib path, delete a stdlib file, or
// rewrite its own source and configuration gets "Read-only file system"
// each time, and the runtime tree and the app are byte for byte what they
// were.
func TestPythonOSRuntimeReadOnly(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	rt := pythonRuntime(t)
	dir := e.app(nil, "", "")
	writeFile(t, filepath.Join(dir, "main.py"), `
import errno, glob, os
def attempt(name, fn):
    try:
        fn()
        print(name, "ok")
    except OSError as err:
        print(name, errno.errorcode.get(err.errno, err.errno))
stdlib = sorted(glob.glob("/python/lib/python3*/this.py") + glob.glob("/python/python3*/this.py"))
attempt("append interpreter", lambda: open("/python/python.wasm", "ab").write(b"x"))
attempt("add stdlib module", lambda: open("/python/evil.py", "w").write("x = 1"))
attempt("delete stdlib file", lambda: os.remove(stdlib[0] if stdlib else "/python/LICENSE"))
attempt("rewrite own source", lambda: open("/app/main.py", "a").write("#"))
attempt("rewrite own config", lambda: open("/app/.wasmrun.toml", "w").write("[network]\nisolation = false\n"))
attempt("write tmp", lambda: open("/tmp/scratch", "w").write("ok"))
`)
	runtimeBefore, appBefore := treeHash(t, filepath.Dir(rt)), treeHash(t, dir)
	r := e.run("os", "--runtime-dir", filepath.Dir(rt), dir)
	mustExit(t, r, 0)
	want := strings.Join([]string{
		"append interpreter EROFS", "add stdlib module EROFS", "delete stdlib file EROFS",
		"rewrite own source EROFS", "rewrite own config EROFS", "write tmp ok"}, "\n")
	if got := strings.Join(lines(r.stdout), "\n"); got != want {
		t.Errorf("app reported:\n%s\nwant:\n%s\nstderr:\n%s", got, want, r.stderr)
	}
	if treeHash(t, filepath.Dir(rt)) != runtimeBefore {
		t.Error("the runtime directory changed")
	}
	if treeHash(t, dir) != appBefore {
		t.Error("the app directory changed")
	}
	e.noLeaks()
}
