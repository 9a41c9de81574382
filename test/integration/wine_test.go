package integration

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// Windows (issue 15): wasmrun built for windows/amd64 runs under Wine
// (Debian's wine64), in a private Wine prefix made for the test and
// removed after it, with the same guests as on Linux.
//
// What Wine cannot show, and real Windows has to: Wine gives Windows
// programs the Linux file system with its symlinks already followed (a
// Linux symlink looks like the file or directory it points to, and Lstat
// does not see it), so whether a symlink can lead out of a preopen is not
// something a test under Wine can check.

// wine runs windows/amd64 programs in one private prefix.
type wine struct {
	loader string   // wine64
	exe    string   // wasmrun.exe
	env    []string // WINEPREFIX and quiet settings
}

// wineLoader and wineServer are where Debian's wine64 puts them.
const (
	wineLoader = "/usr/lib/wine/wine64"
	wineServer = "/usr/lib/wine/wineserver64"
	mingwCC    = "x86_64-w64-mingw32-gcc"
)

// newWine makes a prefix in a temporary directory, gives it the
// bcryptprimitives.dll Go programs need (testdata/wine), builds
// wasmrun.exe, and stops every Wine process of the prefix when t ends.
// Without wine64 or the MinGW compiler (make test-deps) t is
// skipped, or fails under WASMRUN_REQUIRE_TOOLCHAINS.
func newWine(t *testing.T) *wine {
	t.Helper()
	for _, tool := range []string{wineLoader, wineServer, mingwCC} {
		if _, err := exec.LookPath(tool); err != nil {
			msg := tool + " is missing (run make test-deps)"
			if os.Getenv("WASMRUN_REQUIRE_TOOLCHAINS") != "" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	dir := t.TempDir()
	w := &wine{loader: wineLoader, exe: filepath.Join(dir, "wasmrun.exe")}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DISPLAY=") && !strings.HasPrefix(kv, "WINE") {
			w.env = append(w.env, kv)
		}
	}
	w.env = append(w.env, "WINEPREFIX="+filepath.Join(dir, "prefix"), "WINEDEBUG=-all",
		// No Mono or Gecko installer at prefix creation.
		"WINEDLLOVERRIDES=mscoree,mshtml=",
		"WASMRUN_CACHE_DIR="+filepath.Join(dir, "cache"))
	t.Cleanup(func() {
		// Ends the prefix's wineserver and every process of the prefix,
		// and waits for them, before the directory goes.
		for _, arg := range []string{"-k", "-w"} {
			cmd := exec.Command(wineServer, arg)
			cmd.Env = w.env
			cmd.Run()
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	boot := exec.CommandContext(ctx, wineLoader, "wineboot", "--init")
	boot.Env = w.env
	if out, err := boot.CombinedOutput(); err != nil {
		t.Fatalf("wineboot --init: %v\n%s", err, out)
	}
	src := filepath.Join(repoRoot(), "test", "integration", "testdata", "wine")
	dll := filepath.Join(dir, "prefix", "drive_c", "windows", "system32", "bcryptprimitives.dll")
	cc := exec.CommandContext(ctx, mingwCC, "-shared", "-O2", "-o", dll,
		filepath.Join(src, "bcryptprimitives.c"), filepath.Join(src, "bcryptprimitives.def"), "-ladvapi32")
	if out, err := cc.CombinedOutput(); err != nil {
		t.Fatalf("build bcryptprimitives.dll: %v\n%s", err, out)
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", w.exe, "./cmd/wasmrun")
	build.Dir = repoRoot()
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=windows go build ./cmd/wasmrun: %v\n%s", err, out)
	}
	return w
}

// run runs `wasmrun.exe ARGS...` under Wine; Linux paths in ARGS are
// Wine's Z: drive.
func (w *wine) run(t *testing.T, args ...string) result {
	t.Helper()
	return runCommand(t, runTimeout, args, func(ctx context.Context) *exec.Cmd {
		cmd := exec.CommandContext(ctx, w.loader, append([]string{w.exe}, args...)...)
		cmd.Env = w.env
		return cmd
	})
}

// windowsFileGaps are the files guest's steps that fail under Wine: it
// makes no symlinks (ENOTSUP), and reads atime back as now.
var windowsFileGaps = map[string]bool{
	"symlink": true, "lstat": true, "follow": true,
	"times": true, "futimens": true, "times_now": true,
}

// TestWindows: `wasmrun run` of real guests, built for Windows and run
// under Wine: arguments, environment and exit codes, a trap, clocks and
// random bytes, the files guest in a preopen, and every way out of a
// preopen that does not need a symlink, refused with nothing made
// outside; `wasmrun os` under simulated isolation: two apps on the same
// port, each reached through its own forward, ps and stop; and the tests
// of the wasi packages, built for Windows.
func TestWindows(t *testing.T) {
	w := newWine(t)

	t.Run("args_env_exit", func(t *testing.T) {
		r := w.run(t, "run", "--env", "GREETING=hi", guests.C(t, "args_env_exit"), "--", "7", "a b", "--env")
		mustExit(t, r, 7)
		for _, want := range []string{"argc 4", "arg 2 [a b]", "arg 3 [--env]", "lookup GREETING [hi]"} {
			if !strings.Contains(r.stdout, want+"\n") {
				t.Errorf("no %q in stdout:\n%s", want, r.stdout)
			}
		}
		if !strings.Contains(r.stderr, "to stderr") {
			t.Errorf("stderr %q", r.stderr)
		}
	})

	t.Run("trap", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "trap.wasm")
		writeFile(t, path, string(commandModule(trapBody)))
		r := w.run(t, "run", path)
		mustExit(t, r, 134)
		if !strings.Contains(r.stderr, "unreachable") {
			t.Fatalf("stderr does not name the trap: %q", r.stderr)
		}
	})

	t.Run("clock_random", func(t *testing.T) {
		r := w.run(t, "run", guests.C(t, "clock_random"))
		mustExit(t, r, 0)
		realtime, err := strconv.ParseInt(field(t, r.stdout, "realtime"), 10, 64)
		if now := time.Now().UnixNano(); err != nil || realtime < now-int64(time.Minute) || realtime > now {
			t.Errorf("realtime %d, not within a minute before %d (%v)", realtime, now, err)
		}
		if got := field(t, r.stdout, "monotonic"); got != "ok" {
			t.Errorf("monotonic: %s", got)
		}
		// cputime is not asserted: Wine's GetProcessTimes moves in coarse
		// steps, not always within the guest's loop (one run in a few).
		t.Logf("cputime %s", field(t, r.stdout, "cputime"))
		if ms, err := strconv.Atoi(field(t, r.stdout, "sleep_ms")); err != nil || ms < 99 || ms > 5000 {
			t.Errorf("a 100 ms sleep took %s ms", field(t, r.stdout, "sleep_ms"))
		}
		var randoms []string
		for _, l := range lines(r.stdout) {
			if v, ok := strings.CutPrefix(l, "random "); ok {
				randoms = append(randoms, v)
			}
		}
		if len(randoms) != 2 || len(randoms[0]) != 64 || randoms[0] == randoms[1] || strings.Trim(randoms[0], "0") == "" {
			t.Errorf("random lines %q: want two different 32-byte values", randoms)
		}
	})

	t.Run("files", func(t *testing.T) {
		dir := t.TempDir()
		r := w.run(t, "run", "--dir", dir+":/data", guests.C(t, "files"), "--", "/data", "300")
		if len(windowsFileGaps) == 0 {
			mustExit(t, r, 0) // else the guest exits 1 after its FAIL lines
		}
		got := map[string]bool{}
		for _, line := range lines(r.stdout) {
			if step, ok := strings.CutPrefix(line, "ok "); ok {
				got[step] = true
			}
		}
		for _, step := range append(append([]string{}, fileSteps...), langFileSteps["c"]...) {
			switch {
			case !got[step] && !windowsFileGaps[step]:
				t.Errorf("step %s: no \"ok %s\" line\n%s", step, step, r.stdout)
			case got[step] && windowsFileGaps[step]:
				t.Errorf("step %s passes now: take it out of windowsFileGaps", step)
			}
		}
		if got := readFile(t, filepath.Join(dir, "work", "b.txt")); got != "hello, world\nmore" {
			t.Errorf("host sees b.txt = %q", got)
		}
		ents, err := os.ReadDir(filepath.Join(dir, "work", "big"))
		if err != nil || len(ents) != 300 {
			t.Errorf("host sees %d entries in work/big (%v), want 300", len(ents), err)
		}
	})

	// The escape guest's tree without its symlinks (see above): "..",
	// "sub/../..", absolute paths and the libc's own lookups must fail,
	// what stays inside must work, and nothing outside may change.
	t.Run("escape", func(t *testing.T) {
		root := t.TempDir()
		pre := filepath.Join(root, "pre")
		for _, d := range []string{pre, filepath.Join(pre, "sub")} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		writeFile(t, filepath.Join(root, "outside.txt"), "outside")
		writeFile(t, filepath.Join(pre, "inside.txt"), "inside")
		r := w.run(t, "run", "--dir", pre+":/data", guests.C(t, "escape"), "--", "/data")
		mustExit(t, r, 0)
		for _, c := range []string{"dotdot", "subdotdot", "absolute", "libc_absolute", "libc_dotdot"} {
			if got := field(t, r.stdout, c); got != errnoNotCapable {
				t.Errorf("%s: %s, want %s (as on Linux)", c, got, errnoNotCapable)
			}
		}
		if got := field(t, r.stdout, "inside"); got != "ok" {
			t.Errorf("inside: %s", got)
		}
		ents, err := os.ReadDir(root)
		if err != nil || len(ents) != 2 {
			t.Errorf("outside the preopen: %v (%v), want only outside.txt and pre", ents, err)
		}
		if got := readFile(t, filepath.Join(root, "outside.txt")); got != "outside" {
			t.Errorf("outside.txt changed: %q", got)
		}
	})

	t.Run("os", func(t *testing.T) { testWindowsOS(t, w) })
	t.Run("wasi_packages", func(t *testing.T) { testWindowsPackages(t, w) })
}

// testWindowsPackages builds the tests of the wasi packages for Windows
// and runs them under Wine, in their package directories: the Windows
// backend's own tests (escapes, read-only preopens, files, sockets, the
// egress policy, poll, signals) and the ABI harness.
func testWindowsPackages(t *testing.T, w *wine) {
	for _, pkg := range []string{"wasi", "wasi/internal/sys"} {
		exe := filepath.Join(t.TempDir(), "pkg.test.exe")
		build := exec.Command("go", "test", "-c", "-o", exe, "./"+pkg)
		build.Dir = repoRoot()
		build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("GOOS=windows go test -c ./%s: %v\n%s", pkg, err, out)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		cmd := exec.CommandContext(ctx, w.loader, exe, "-test.count=1", "-test.v")
		cmd.Dir, cmd.Env = filepath.Join(repoRoot(), pkg), w.env
		out, err := cmd.CombinedOutput()
		cancel()
		passed := strings.Count(string(out), "--- PASS")
		if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "PASS") || passed == 0 {
			t.Fatalf("%s's tests under Wine: %v\n%s", pkg, err, out)
		}
		t.Logf("%s: %d tests passed, %d skipped under Wine", pkg, passed, strings.Count(string(out), "--- SKIP"))
	}
}

// testWindowsOS: two apps both listening on :3000 in their own port spaces
// (simulated isolation), each answering through its own --forward with its
// own APP_ID; a third, on :3000 too, reaches its own and is refused the
// others' host ports; ps lists them; stop ends one, the other still
// answers, and ps no longer lists the one stopped.
func testWindowsOS(t *testing.T, w *wine) {
	state := t.TempDir()
	env := append(slices.Clone(w.env), "WASMRUN_STATE_DIR="+state)
	app := t.TempDir()
	copyFile(t, guests.Go(t, "netapp"), filepath.Join(app, "app.wasm"))
	ports := map[string]int{"a": freePort(t, "tcp"), "b": freePort(t, "tcp")}
	start := func(id string, args ...string) *osRun {
		args = append([]string{"os", "--name", "win" + id, "--env", "APP_ID=" + id}, args...)
		cmd := exec.Command(w.loader, append([]string{w.exe}, args...)...)
		cmd.Env = env
		return startOSRun(t, cmd, args)
	}
	for _, id := range []string{"a", "b"} {
		start(id, "--forward", fmt.Sprintf("%d:3000", ports[id]), app, "--", "serve", ":3000").waitFor("listening")
	}
	hello := func(id string) (string, error) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", ports[id]), 10*time.Second)
		if err != nil {
			return "", err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		return strings.TrimSpace(line), err
	}
	for _, id := range []string{"a", "b"} {
		if got, err := hello(id); got != "hello "+id {
			t.Errorf("through app %s's forward: %q (%v), want \"hello %s\"", id, got, err, id)
		}
	}
	// A third app on :3000 too reaches its own, and neither of the others'
	// host ports, which are the host's loopback services to it.
	var targets []string
	for _, id := range []string{"a", "b"} {
		targets = append(targets, fmt.Sprintf("127.0.0.1:%d", ports[id]), fmt.Sprintf("0.0.0.0:%d", ports[id]))
	}
	c := start("c", append([]string{app, "--", "serve-dial", ":3000", "127.0.0.1:3000"}, targets...)...)
	c.waitFor("dialed")
	if want := "127.0.0.1:3000: hello c\n"; !strings.Contains(c.stdout.String(), want) {
		t.Errorf("app c does not reach its own :3000 (no %q):\n%s", want, c.stdout)
	}
	for _, to := range targets {
		if want := to + ": refused\n"; !strings.Contains(c.stdout.String(), want) {
			t.Errorf("app c's dial of %s was not refused (no %q):\n%s", to, want, c.stdout)
		}
	}
	wasmrun := func(args ...string) result {
		return runCommand(t, runTimeout, args, func(ctx context.Context) *exec.Cmd {
			cmd := exec.CommandContext(ctx, w.loader, append([]string{w.exe}, args...)...)
			cmd.Env = env
			return cmd
		})
	}
	ps := wasmrun("ps")
	mustExit(t, ps, 0)
	if !strings.Contains(ps.stdout, "wina") || !strings.Contains(ps.stdout, "winb") {
		t.Errorf("ps does not list both apps:\n%s", ps.stdout)
	}
	mustExit(t, wasmrun("stop", "wina"), 0)
	if got, err := hello("a"); err == nil {
		t.Errorf("app a still answers after stop: %q", got)
	}
	if got, err := hello("b"); got != "hello b" {
		t.Errorf("app b after a's stop: %q (%v)", got, err)
	}
	if ps := wasmrun("ps"); strings.Contains(ps.stdout, "wina") {
		t.Errorf("ps lists the stopped app:\n%s", ps.stdout)
	}
}
