package integration

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/guests"
	"golang.org/x/sys/unix"
)

// TestOSStateRootNotOurs: a state root that someone else could change is
// refused by os, ps and stop before anything in it is read: its state
// files name hooks that clean-up runs, processes that stop kills and
// namespaces it removes, as root. Here the root is world-writable, or its
// containers directory is another user's, or the way to it passes through
// another user's link (which they could swap for one to their own state at
// any moment). The planted container's poststop hook (its owner and
// process long dead, so the start-up clean-up would run it) never runs.
func TestOSStateRootNotOurs(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	app := e.app1(guests.C(t, "args_env_exit"))
	marker := filepath.Join(e.dir, "hook-ran")
	plant := func(state string) {
		planted := filepath.Join(state, "containers", "planted")
		if err := os.MkdirAll(planted, 0o755); err != nil {
			t.Fatal(err)
		}
		st := map[string]any{
			"id": "planted", "bundle": planted, "pid": 999999999, "owner": 999999999,
			"hooks": map[string]any{"poststop": []map[string]any{{"path": "/bin/sh", "args": []string{"sh", "-c", "touch " + marker}}}},
		}
		b, _ := json.Marshal(st)
		writeFile(t, filepath.Join(planted, "state.json"), string(b))
	}
	sticky := filepath.Join(e.dir, "shared")
	if err := os.Mkdir(sticky, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(sticky, 0o777|os.ModeSticky)
	for _, tc := range []struct {
		name string
		prep func() (state string)
		want string
	}{
		{"world-writable", func() string {
			state := filepath.Join(e.dir, "ww")
			plant(state)
			os.Chmod(state, 0o777)
			return state
		}, "is not a directory owned by uid 0 and writable only by it"},
		{"another user's containers directory", func() string {
			state := filepath.Join(e.dir, "theirs")
			plant(state)
			os.Chmod(state, 0o700)
			os.Chown(filepath.Join(state, "containers"), 12345, 12345)
			return state
		}, "containers is owned by uid 12345"},
		{"another user's link on the way", func() string {
			real := filepath.Join(e.dir, "real")
			plant(real)
			os.Chmod(real, 0o700)
			link := filepath.Join(sticky, "link")
			if err := os.Symlink(e.dir, link); err != nil {
				t.Fatal(err)
			}
			os.Lchown(link, 12345, 12345)
			return filepath.Join(link, "real")
		}, "link is owned by uid 12345"},
	} {
		state := tc.prep()
		for _, args := range [][]string{{"os", app}, {"ps"}, {"stop", "planted"}} {
			r := runCommand(t, osTimeout, args, func(ctx context.Context) *exec.Cmd {
				c := e.command(ctx, args...)
				c.Env = append(c.Env, "WASMRUN_STATE_DIR="+state)
				return c
			})
			mustExit(t, r, ExitFailure)
			if ls := lines(r.stderr); len(ls) != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("%s: %v: stderr %q, want one line with %q", tc.name, args, r.stderr, tc.want)
			}
			if fileExists(marker) {
				t.Fatalf("%s: %v: the planted poststop hook ran", tc.name, args)
			}
		}
	}
	e.noLeaks()
}

// TestOSConfigNotOurs: root's `wasmrun os` refuses, with one line, an
// app's .wasmrun.toml that another user owns (it asks for uid 0 and a
// directory of root's: their app would run as root with it), that others
// can write, that is a link (to root's config for root's own app), that is
// root's but in another user's app directory, or that is a FIFO (which
// would block); nothing is created.
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
		{"group-writable", func(cfg string) error { return os.Chmod(cfg, 0o664) }, "writable by others"},
		// root's own config, for root's app, linked into another app
		// directory: that app would get what root gave its own.
		{"a link to root's config", func(cfg string) error {
			rootCfg := filepath.Join(e.dir, "root-app.toml")
			if err := os.Rename(cfg, rootCfg); err != nil {
				return err
			}
			return os.Symlink(rootCfg, cfg)
		}, "a link"},
		{"root's config in another user's directory", func(cfg string) error { return os.Chown(filepath.Dir(cfg), 12345, 12345) }, "is owned by uid 12345"},
		{"a FIFO", func(cfg string) error {
			if err := os.Remove(cfg); err != nil {
				return err
			}
			return unix.Mkfifo(cfg, 0o644)
		}, "not a regular file"},
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
	// Root's app with root's config, reached through another user's link:
	// they could swap the link between the config's read and the module's.
	app := e.app(map[string]string{"app.wasm": guests.C(t, "args_env_exit")}, top, "")
	link := filepath.Join(e.dir, "their-link")
	if err := os.Symlink(app, link); err != nil {
		t.Fatal(err)
	}
	os.Lchown(link, 12345, 12345)
	r := e.run("os", link)
	mustExit(t, r, ExitFailure)
	if ls := lines(r.stderr); len(ls) != 1 || !strings.Contains(r.stderr, link+" is owned by uid 12345") {
		t.Errorf("through another user's link: stderr %q", r.stderr)
	}
	e.noLeaks()
}

// TestOSCacheOutOfGuestReach: an app may not have a writable directory
// that holds a compiled-module cache (the one it starts from, or the
// default one later starts use), nor one that is a cache: each is one
// line, before anything is made. A read-only mount of the cache inside
// would not do: the guest could rename a directory above it and make the
// path anew. Read-only, the directory is the app's, and writing the
// cache there is EROFS.
func TestOSCacheOutOfGuestReach(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	parent := t.TempDir()
	cache, defCache := filepath.Join(parent, "sub", "cache"), filepath.Join(parent, "default-cache")
	for _, d := range []string{cache, filepath.Join(defCache, "x")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	tamper := guests.C(t, "tamper")
	run := func(app string, args ...string) result {
		cmd := append([]string{"os", "--cache-dir", cache, app, "--"}, args...)
		return runCommand(t, osTimeout, cmd, func(ctx context.Context) *exec.Cmd {
			c := e.command(ctx, cmd...)
			c.Env = append(c.Env, "WASMRUN_CACHE_DIR="+defCache)
			return c
		})
	}
	for _, tc := range []struct{ dirs, want string }{
		{parent + ":/d", "holds the compiled-module cache " + cache},
		{filepath.Join(parent, "sub") + ":/d", "holds the compiled-module cache " + cache},
		{cache + ":/c", "is the compiled-module cache " + cache},
		{defCache + "/x:/x", "is the compiled-module cache " + defCache},
	} {
		app := e.app(map[string]string{"app.wasm": tamper}, `dirs = ["`+tc.dirs+`"]`, "")
		r := run(app, "mkdir", "/d/sub/renamed")
		mustExit(t, r, ExitFailure)
		if ls := lines(r.stderr); len(ls) != 1 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("dirs %s: stdout %q stderr %q, want one line with %q", tc.dirs, r.stdout, r.stderr, tc.want)
		}
	}
	app := e.app(map[string]string{"app.wasm": tamper}, `dirs = ["`+parent+`:/d:ro"]`, "")
	r := run(app, "create", "/d/sub/cache/planted", "rename", "/d/sub", "/d/moved")
	mustExit(t, r, 0)
	for _, want := range []string{"create /d/sub/cache/planted errno 69", "rename /d/sub /d/moved errno 69"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("read-only: stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if fileExists(filepath.Join(cache, "planted")) || !fileExists(cache) {
		t.Error("the cache changed")
	}
	e.noLeaks()
}

// TestOSBundleRemoved: an app's bundle removed from under its running
// `wasmrun os` (by hand, or by another user where the state root was
// theirs) does not leave the app's /tmp tmpfs mounted on the host: the
// run removes what it made, not only what the bundle's link names.
func TestOSBundleRemoved(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	e.privateTmp()
	app := e.app(map[string]string{"app.wasm": guests.C(t, "idle")}, "", "")
	run := e.start("-v", "--name", "gone", app, "--", "60s")
	run.waitFor("running as pid")
	var tmps []string
	if !waitUntil(10*time.Second, 20*time.Millisecond, func() bool {
		tmps, _ = filepath.Glob(filepath.Join(e.tmp, "wasmrun-tmp-*"))
		var st unix.Statfs_t
		return len(tmps) == 1 && unix.Statfs(tmps[0], &st) == nil && st.Type == unix.TMPFS_MAGIC
	}) {
		t.Fatalf("no tmpfs for the app's /tmp: %v", tmps)
	}
	if err := os.RemoveAll(filepath.Join(e.state, "bundles", "gone")); err != nil {
		t.Fatal(err)
	}
	terminateAll(t, map[string]*osRun{"gone": run})
	e.noLeaks()
}
