package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// TestCacheBound: the compiled-module cache stays within WASMRUN_CACHE_MAX
// however many distinct modules are compiled into it (a node that runs
// new image versions for months, or a user who deploys many modules to
// fill its disk): once a new entry is added, the least recently used ones
// go. Here the first module's entry is made two hours old, and the bound
// holds one entry.
func TestCacheBound(t *testing.T) {
	t.Parallel()
	cache := t.TempDir()
	runWith := func(module string, max int64) {
		t.Helper()
		args := []string{"run", "--cache-dir", cache, module}
		r := runCommand(t, runTimeout, args, func(ctx context.Context) *exec.Cmd {
			cmd := command(ctx, args...)
			if max > 0 {
				cmd.Env = append(cmd.Env, "WASMRUN_CACHE_MAX="+strconv.FormatInt(max, 10))
			}
			return cmd
		})
		mustExit(t, r, 0)
	}
	entries := func() map[string]int64 {
		m := map[string]int64{}
		subs, _ := filepath.Glob(filepath.Join(cache, "wazero-*"))
		for _, s := range subs {
			ents, _ := os.ReadDir(s)
			for _, e := range ents {
				if fi, err := e.Info(); err == nil {
					m[filepath.Join(s, e.Name())] = fi.Size()
				}
			}
		}
		return m
	}
	runWith(guests.C(t, "args_env_exit"), 0)
	first := entries()
	if len(first) != 1 {
		t.Fatalf("after one module: cache entries %v, want 1", first)
	}
	old := time.Now().Add(-2 * time.Hour)
	var firstSize int64
	for p, n := range first {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
		firstSize = n
	}
	runWith(guests.C(t, "cat"), firstSize+1)
	after := entries()
	for p := range first {
		if _, ok := after[p]; ok {
			t.Errorf("the least recently used entry %s stayed over the bound", p)
		}
	}
	if len(after) != 1 {
		t.Errorf("after the second module: cache entries %v, want its own only", after)
	}
}

// TestCachePlanted: wazero runs the machine code of a cache entry after
// checking no more than a checksum, so a cache that someone else can
// write is never used. The planted entry is a real one: the compiled code
// of a module that exits 42 under the name of the entry of one that exits
// 7 (modules alike but for that constant). As the caller's own cache it
// runs (exit 42: what a planted entry does); owned by another user, or
// writable by every user, or under such a directory, it is not used: one
// warning, and the module runs its own code (exit 7).
func TestCachePlanted(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	a, b := guests.C(t, "exit_code", "-DCODE=42"), guests.C(t, "exit_code", "-DCODE=7")
	parent := t.TempDir()
	cache := filepath.Join(parent, "cache")
	entries := func() map[string]bool {
		m := map[string]bool{}
		files, _ := filepath.Glob(filepath.Join(cache, "wazero-*", "*"))
		for _, f := range files {
			m[f] = true
		}
		return m
	}
	newEntry := func(module string) string {
		t.Helper()
		before := entries()
		mustExit(t, run(t, nil, "compile", "--cache-dir", cache, module), 0)
		for f := range entries() {
			if !before[f] {
				return f
			}
		}
		t.Fatalf("compiling %s wrote no cache entry", module)
		return ""
	}
	entryA, entryB := newEntry(a), newEntry(b)
	code, err := os.ReadFile(entryA)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(entryB, code, 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, nil, "run", "--cache-dir", cache, b)
	mustExit(t, r, 42) // the planted code runs: the attack is real
	if r.stderr != "" {
		t.Errorf("own cache: stderr %q", r.stderr)
	}

	chownAll := func(uid int) {
		filepath.Walk(cache, func(p string, _ os.FileInfo, _ error) error { return os.Lchown(p, uid, uid) })
	}
	defer chownAll(0)
	for _, tc := range []struct {
		name       string
		prep, undo func()
		want       string
	}{
		{"another user's", func() { chownAll(12345) }, func() { chownAll(0) }, cache + " is owned by uid 12345"},
		{"writable by all", func() { os.Chmod(cache, 0o777) }, func() { os.Chmod(cache, 0o700) }, cache + " is writable by others"},
		{"under a directory another user has", func() { os.Chown(parent, 12345, 12345) }, func() { os.Chown(parent, 0, 0) }, parent + " is owned by uid 12345"},
		{"its wazero directory another user's", func() { os.Lchown(filepath.Dir(entryB), 12345, 12345) }, func() { os.Lchown(filepath.Dir(entryB), 0, 0) }, filepath.Dir(entryB) + " is owned by uid 12345"},
	} {
		tc.prep()
		r := run(t, nil, "run", "--cache-dir", cache, b)
		tc.undo()
		if r.code != 7 {
			t.Errorf("%s: exit code %d, want 7 (the module's own code)\nstderr: %s", tc.name, r.code, r.stderr)
		}
		if ls := lines(r.stderr); len(ls) != 1 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "is not used") {
			t.Errorf("%s: stderr %q, want one warning with %q", tc.name, r.stderr, tc.want)
		}
	}
}

// TestRunCacheOutOfGuestReach: `wasmrun run` has no mount namespace to
// make a cache read-only in, so a writable --dir through which the guest
// could write a compiled-module cache (the one given, the default one
// that later starts use, even under --no-cache, the user's own under
// $HOME) is refused with one line,
// before the guest runs; read-only, it runs (and cannot write there).
func TestRunCacheOutOfGuestReach(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	cache := filepath.Join(parent, "cache")
	if err := os.Mkdir(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	tamper := guests.C(t, "tamper")
	withEnv := func(env string, args ...string) result {
		return runCommand(t, runTimeout, args, func(ctx context.Context) *exec.Cmd {
			cmd := command(ctx, args...)
			if env != "" {
				cmd.Env = append(cmd.Env, env)
			}
			return cmd
		})
	}
	for _, tc := range []struct {
		name string
		env  string
		args []string
		want string
	}{
		{"holds the cache", "", []string{"--cache-dir", cache, "--dir", parent + ":/d"}, "holds the compiled-module cache " + cache},
		{"holds the default cache, no cache used", "WASMRUN_CACHE_DIR=" + cache, []string{"--no-cache", "--dir", parent + ":/d"}, "holds the compiled-module cache " + cache},
		{"is the cache", "", []string{"--cache-dir", cache, "--dir", cache + ":/c"}, "is the compiled-module cache " + cache},
		// $HOME's cache, though $WASMRUN_CACHE_DIR names another.
		{"holds the user's cache", "HOME=" + home, []string{"--cache-dir", cache, "--dir", home + ":/d"}, "holds the compiled-module cache " + filepath.Join(home, ".cache", "wasmrun")},
	} {
		args := append(append([]string{"run"}, tc.args...), tamper, "create", "/d/cache/planted")
		r := withEnv(tc.env, args...)
		mustExit(t, r, ExitFailure)
		if ls := lines(r.stderr); len(ls) != 1 || !strings.Contains(r.stderr, tc.want) || strings.Contains(r.stdout, "create") {
			t.Errorf("%s: stdout %q stderr %q, want one line with %q and no guest", tc.name, r.stdout, r.stderr, tc.want)
		}
	}
	r := withEnv("", "run", "--cache-dir", cache, "--dir", parent+":/d:ro", tamper, "create", "/d/cache/planted")
	mustExit(t, r, 0)
	if !strings.Contains(r.stdout, "create /d/cache/planted errno 69") || fileExists(filepath.Join(cache, "planted")) {
		t.Errorf("read-only: %s", r.stdout)
	}
}

// TestRunCacheReachSwapped: the race a check of the path alone loses.
// Another guest, which may write the directory holding the --dir given to
// `wasmrun run` (share/x), keeps exchanging x with a link to the cache's
// parent. Whatever x was when its path was checked, the directory opened
// is judged again by its descriptor: every run either gives its guest the
// real x (where /d/cache does not exist) or is refused with one line, and
// no guest ever plants a file in the cache.
func TestRunCacheReachSwapped(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	cache := filepath.Join(parent, "cache")
	if err := os.Mkdir(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	share := t.TempDir()
	x, y := filepath.Join(share, "x"), filepath.Join(share, "y")
	if err := os.Mkdir(x, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(parent, y); err != nil {
		t.Fatal(err)
	}
	tamper := guests.C(t, "tamper")

	stop := make(chan struct{})
	swapped := make(chan int)
	go func() {
		n := 0
		defer func() { swapped <- n }()
		for ; n < 50_000_000; n++ { // bounded; stopped after the runs
			select {
			case <-stop:
				return
			default:
			}
			if err := unix.Renameat2(unix.AT_FDCWD, x, unix.AT_FDCWD, y, unix.RENAME_EXCHANGE); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	planted := filepath.Join(cache, "planted")
	refused, ran := 0, 0
	for i := 0; i < 30 && !t.Failed(); i++ {
		r := run(t, nil, "run", "--cache-dir", cache, "--dir", x+":/d", tamper, "create", "/d/cache/planted")
		switch {
		case fileExists(planted):
			t.Errorf("run %d: the guest planted %s\nstdout: %s\nstderr: %s", i, planted, r.stdout, r.stderr)
		case r.code == ExitFailure && len(lines(r.stderr)) == 1 && strings.Contains(r.stderr, "compiled-module cache "+cache):
			refused++
		case r.code == 0 && strings.Contains(r.stdout, "create /d/cache/planted errno 44"):
			ran++
		default:
			t.Errorf("run %d: exit %d\nstdout: %s\nstderr: %s", i, r.code, r.stdout, r.stderr)
		}
	}
	close(stop)
	t.Logf("%d exchanges: %d runs refused, %d ran in the real directory", <-swapped, refused, ran)
}
