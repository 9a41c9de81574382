package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// TestOSStateRootNotOurs: a state root that someone else could write (here
// world-writable, as a WASMRUN_STATE_DIR in a shared place would be) is
// refused by os, ps and stop before anything in it is read: its state
// files name hooks that clean-up runs, processes that stop kills and
// namespaces it removes, as root. The planted container's poststop hook
// (its owner and process long dead, so the start-up clean-up would run
// it) never runs.
func TestOSStateRootNotOurs(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	planted := filepath.Join(e.state, "containers", "planted")
	if err := os.MkdirAll(planted, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(e.state, 0o777); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(e.dir, "hook-ran")
	st := map[string]any{
		"id": "planted", "bundle": planted, "pid": 999999999, "owner": 999999999,
		"hooks": map[string]any{"poststop": []map[string]any{{"path": "/bin/sh", "args": []string{"sh", "-c", "touch " + marker}}}},
	}
	b, _ := json.Marshal(st)
	writeFile(t, filepath.Join(planted, "state.json"), string(b))

	app := e.app1(guests.C(t, "args_env_exit"))
	for _, args := range [][]string{{"os", app}, {"ps"}, {"stop", "planted"}} {
		r := e.run(args...)
		mustExit(t, r, ExitFailure)
		if ls := lines(r.stderr); len(ls) != 1 || !strings.Contains(r.stderr, "is not a directory owned by uid 0 and writable only by it") {
			t.Errorf("%v: stderr %q, want one line refusing the state dir", args, r.stderr)
		}
		if fileExists(marker) {
			t.Fatalf("%v: the planted poststop hook ran", args)
		}
	}
	if !fileExists(filepath.Join(planted, "state.json")) {
		t.Error("the planted state was removed: the state dir was read")
	}
	os.Chmod(e.state, 0o700)
	os.RemoveAll(planted)
	e.noLeaks()
}

// TestOSConfigNotOurs: root's `wasmrun os` refuses, with one line, an
// app's .wasmrun.toml that another user owns (it asks for uid 0 and a
// directory of root's: their app would run as root with it) or that every
// user can write; nothing is created.
func TestOSConfigNotOurs(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	secret := filepath.Join(e.dir, "root-only")
	if err := os.Mkdir(secret, 0o700); err != nil {
		t.Fatal(err)
	}
	top := `user = "0"` + "\n" + `dirs = ["` + secret + `:/s"]`
	for _, tc := range []struct {
		name string
		prep func(cfg string) error
		want string
	}{
		{"another user's", func(cfg string) error { return os.Chown(cfg, 12345, 12345) }, "owned by uid 12345"},
		{"world-writable", func(cfg string) error { return os.Chmod(cfg, 0o666) }, "writable by every user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			app := e.app(map[string]string{"app.wasm": guests.C(t, "args_env_exit")}, top, "")
			cfg := filepath.Join(app, ".wasmrun.toml")
			if err := tc.prep(cfg); err != nil {
				t.Fatal(err)
			}
			r := e.run("os", app)
			mustExit(t, r, ExitFailure)
			if ls := lines(r.stderr); len(ls) != 1 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, cfg) {
				t.Errorf("stderr %q, want one line with %q about %s", r.stderr, tc.want, cfg)
			}
			if strings.Contains(r.stdout, "argc") {
				t.Errorf("the app ran:\n%s", r.stdout)
			}
		})
	}
	e.noLeaks()
}

// TestOSCacheReadOnlyToGuest: an app whose directory holds the
// compiled-module cache (the one it starts from, and the default one) runs
// with that cache read-only, as root without capabilities (nobody cannot
// enter the directory), so it cannot plant machine code that a later
// start runs: writing an entry, or a new file, in either cache is EROFS,
// while the rest of its directory is writable. The app's own start still
// wrote its entry (before the cache became read-only). A directory that is
// the cache itself is refused.
func TestOSCacheReadOnlyToGuest(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	parent := t.TempDir()
	cache, defCache := filepath.Join(parent, "cache"), filepath.Join(parent, "default-cache")
	tamper := guests.C(t, "tamper")
	app := e.app(map[string]string{"app.wasm": tamper}, `dirs = ["`+parent+`:/d"]`, "")
	r := e.run("os", "--cache-dir", cache, app)
	mustExit(t, r, 0) // no steps: compiles into cache
	entries, _ := filepath.Glob(filepath.Join(cache, "wazero-*", "*"))
	if len(entries) != 1 {
		t.Fatalf("cache entries after the first start: %v", entries)
	}
	entry := entries[0]
	before, err := os.ReadFile(entry)
	if err != nil {
		t.Fatal(err)
	}
	guestEntry := "/d/" + strings.TrimPrefix(entry, parent+"/")
	run := func(args ...string) result {
		cmd := append([]string{"os", "--cache-dir", cache, app, "--"}, args...)
		return runCommand(t, osTimeout, cmd, func(ctx context.Context) *exec.Cmd {
			c := e.command(ctx, cmd...)
			c.Env = append(c.Env, "WASMRUN_CACHE_DIR="+defCache)
			return c
		})
	}
	r = run("write", guestEntry, "trunc", guestEntry, "create", "/d/cache/planted", "mkdir", "/d/default-cache/wazero-x", "create", "/d/ok")
	mustExit(t, r, 0)
	for _, want := range []string{
		"write " + guestEntry + " errno 69", "trunc " + guestEntry + " errno 69",
		"create /d/cache/planted errno 69", "mkdir /d/default-cache/wazero-x errno 69", "create /d/ok ok",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if after, _ := os.ReadFile(entry); !bytes.Equal(before, after) {
		t.Error("the guest changed the cache entry")
	}
	if fileExists(filepath.Join(cache, "planted")) || fileExists(filepath.Join(defCache, "wazero-x")) || !fileExists(filepath.Join(parent, "ok")) {
		t.Error("the host's files are not what the guest's errnos say")
	}

	own := e.app(map[string]string{"app.wasm": tamper}, `dirs = ["`+cache+`:/c"]`, "")
	r = e.run("os", "--cache-dir", cache, own)
	mustExit(t, r, ExitFailure)
	if ls := lines(r.stderr); len(ls) != 1 || !strings.Contains(r.stderr, "is the compiled-module cache") {
		t.Errorf("a directory that is the cache: stderr %q, want one line refusing it", r.stderr)
	}
	e.noLeaks()
}
