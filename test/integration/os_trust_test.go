package integration

import (
	"encoding/json"
	"os"
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
