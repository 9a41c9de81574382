package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tree makes a directory with the given files (relative path -> content).
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestDetectLanguage(t *testing.T) {
	for _, tc := range []struct {
		files map[string]string
		want  string
	}{
		{map[string]string{"package.json": "{}"}, "nodejs"},
		{map[string]string{"server.js": ""}, "nodejs"},
		{map[string]string{"requirements.txt": ""}, "python"},
		{map[string]string{"pyproject.toml": ""}, "python"},
		{map[string]string{"app.py": ""}, "python"},
		{map[string]string{"app.wasm": "", "index.js": ""}, ""},
		{map[string]string{"README": ""}, ""},
	} {
		if got := detectLanguage(tree(t, tc.files)); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.files, got, tc.want)
		}
	}
}

func TestFindEntry(t *testing.T) {
	node, _ := lookupLanguage("node")
	py, _ := lookupLanguage("python3")
	for _, tc := range []struct {
		l          *language
		files      map[string]string
		configured string
		want, err  string
	}{
		{node, map[string]string{"package.json": `{"main": "src/start.js"}`, "src/start.js": "", "index.js": ""}, "", "src/start.js", ""},
		{node, map[string]string{"package.json": `{"main": "lib/start"}`, "lib/start.js": ""}, "", "lib/start.js", ""},
		{node, map[string]string{"package.json": `{"main": "gone.js"}`}, "", "", "package.json main"},
		{node, map[string]string{"package.json": `{}`, "server.js": "", "app.js": ""}, "", "server.js", ""},
		{node, map[string]string{"index.js": "", "other.js": ""}, "other.js", "other.js", ""},
		{node, map[string]string{"index.js": ""}, "../x.js", "", "must be relative"},
		{node, map[string]string{"x.txt": ""}, "", "", "no nodejs entry file"},
		{py, map[string]string{"app.py": "", "__main__.py": ""}, "", "app.py", ""},
	} {
		got, err := findEntry(tree(t, tc.files), tc.l, tc.configured)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: err %v, want %q", tc.files, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%v: %q, %v; want %q", tc.files, got, err, tc.want)
		}
	}
}

func TestLookupLanguage(t *testing.T) {
	if _, err := lookupLanguage("cobol"); err == nil || !strings.Contains(err.Error(), `unknown language "cobol" (known: nodejs, python)`) {
		t.Errorf("cobol: %v", err)
	}
	if l, err := lookupLanguage("JavaScript"); err != nil || l.name != "nodejs" {
		t.Errorf("JavaScript: %v, %v", l, err)
	}
}

func TestRuntimeDir(t *testing.T) {
	t.Setenv(RuntimeDirEnv, "/from/env")
	if got := runtimeDir("/flag", "/cfg"); got != "/flag" {
		t.Errorf("flag: %s", got)
	}
	if got := runtimeDir("", "/cfg"); got != "/cfg" {
		t.Errorf("config: %s", got)
	}
	if got := runtimeDir("", ""); got != "/from/env" {
		t.Errorf("env: %s", got)
	}
	t.Setenv(RuntimeDirEnv, "")
	exe, _ := os.Executable()
	exe, _ = filepath.EvalSymlinks(exe)
	if got := runtimeDir("", ""); got != filepath.Join(filepath.Dir(exe), "runtimes") {
		t.Errorf("default: %s", got)
	}
}

func TestFindRuntimeAndList(t *testing.T) {
	dir := tree(t, map[string]string{"nodejs.wasm": "x", "python/python.wasm": "y"})
	if got, err := findRuntime(dir, "nodejs"); err != nil || got != "nodejs.wasm" {
		t.Errorf("nodejs: %q, %v", got, err)
	}
	if got, err := findRuntime(dir, "python"); err != nil || got != "python/python.wasm" {
		t.Errorf("python: %q, %v", got, err)
	}
	_, err := findRuntime(t.TempDir(), "nodejs")
	if err == nil || !strings.Contains(err.Error(), "make runtimes") || strings.Contains(err.Error(), "\n") {
		t.Errorf("missing runtime: %v", err)
	}
	r := call(t, "runtimes", "--runtime-dir", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "nodejs") || !strings.Contains(r.stdout, "python/python.wasm") {
		t.Errorf("runtimes: %+v", r)
	}
	r = call(t, "runtimes", "--runtime-dir", t.TempDir())
	if r.code != 0 || !strings.Contains(r.stdout, "no runtimes installed") {
		t.Errorf("runtimes (none): %+v", r)
	}
}

func TestPlanLaunch(t *testing.T) {
	rt := tree(t, map[string]string{"nodejs.wasm": "x"})
	app := tree(t, map[string]string{"package.json": `{"main": "srv.js"}`, "srv.js": ""})
	l, err := planLaunch(app, "", "", rt, []string{"a"})
	if err != nil || l == nil {
		t.Fatalf("planLaunch: %v, %v", l, err)
	}
	if l.language != "nodejs" || l.module != "nodejs.wasm" || l.root != rt || l.cwd != "/app" ||
		strings.Join(l.args, " ") != "/app/srv.js a" || l.env[0] != "PWD=/app" ||
		len(l.mounts) != 1 || l.mounts[0].Source != app || l.mounts[0].Destination != "/app" {
		t.Errorf("launch %+v", l)
	}
	// The entry file itself as APP.
	if l, err := planLaunch(filepath.Join(app, "srv.js"), "", "", rt, nil); err != nil || l.entry != "srv.js" || l.mounts[0].Source != app {
		t.Errorf("file app: %+v, %v", l, err)
	}
	// A plain module is not interpreted.
	plain := tree(t, map[string]string{"app.wasm": ""})
	if l, err := planLaunch(plain, "", "", rt, nil); l != nil || err != nil {
		t.Errorf("plain app: %+v, %v", l, err)
	}
	// Errors are one clear line each.
	for _, tc := range []struct{ app, lang, rt, want string }{
		{app, "cobol", rt, "unknown language"},
		{app, "python", rt, "no python entry file"},
		{app, "nodejs", t.TempDir(), "make runtimes"},
	} {
		_, err := planLaunch(tc.app, tc.lang, "", tc.rt, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s/%s: %v, want one line with %q", tc.lang, tc.rt, err, tc.want)
		}
	}
}
