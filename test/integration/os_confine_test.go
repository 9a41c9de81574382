package integration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/guests"
	"golang.org/x/sys/unix"
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
	// A copy: should the guest get through, it damages no runtime that
	// other tests (and runs) use.
	rt := filepath.Join(t.TempDir(), "python")
	if out, err := exec.Command("cp", "-a", pythonRuntime(t), rt).CombinedOutput(); err != nil {
		t.Fatalf("copy the runtime: %v: %s", err, out)
	}
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

// procStatus returns the fields of /proc/PID/status.
func procStatus(t testing.TB, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return out
}

// readableApp makes an app directory that any user can read (root-owned,
// mode 0755 up to /), removed when t ends.
func readableApp(t *testing.T, files map[string]string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "wasmrun-app-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, src := range files {
		copyFile(t, src, filepath.Join(dir, name))
		os.Chmod(filepath.Join(dir, name), 0o644)
	}
	return dir
}

// TestOSUnprivileged: `wasmrun os` as root runs an app whose directory is
// root's and readable by anyone as nobody, with no capability at all (not
// even in the bounding set), no_new_privs and the default seccomp filter; an app directory of another
// user runs as that user; `user` overrides. The guest's files in /tmp are
// the app user's.
func TestOSUnprivileged(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	netapp := guests.Go(t, "netapp")
	for _, tc := range []struct {
		name, config string
		owner        int // of the app directory (-1: root's)
		uid, gid     string
	}{
		{"nobody", "", -1, "65534", "65534"},
		{"owner", "", 4242, "4242", "4243"},
		{"user key", `user = "1234:5678"`, -1, "1234", "5678"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := readableApp(t, map[string]string{"app.wasm": netapp})
			name := "u" + strings.ReplaceAll(tc.name, " ", "")
			// Named with --config: root's config is not read from another
			// user's app directory.
			cfg := filepath.Join(e.dir, name+".toml")
			writeFile(t, cfg, tc.config+"\n[network]\n"+e.config())
			if tc.owner >= 0 {
				if err := os.Chown(app, tc.owner, tc.owner+1); err != nil {
					t.Fatal(err)
				}
			}
			r := e.start("-v", "--name", name, "--config", cfg, app, "--", "serve", ":3000")
			r.waitFor("listening 0.0.0.0:3000")
			const confined = "confinement: a root of its own once set up (its directories only), the default seccomp filter"
			if !strings.Contains(r.stderr.String(), confined) {
				t.Errorf("--verbose does not say %q:\n%s", confined, r.stderr.String())
			}
			st := procStatus(t, e.containerState(name).Pid)
			for k, want := range map[string]string{
				"Uid": strings.Repeat(tc.uid+" ", 4)[:len(tc.uid)*4+3], "Gid": strings.Repeat(tc.gid+" ", 4)[:len(tc.gid)*4+3],
				"Groups": "", "CapInh": "0000000000000000", "CapPrm": "0000000000000000", "CapEff": "0000000000000000",
				"CapBnd": "0000000000000000", "CapAmb": "0000000000000000", "NoNewPrivs": "1",
				"Seccomp": "2", "Seccomp_filters": "2", // initproc.DefaultSeccomp, and no new processes
			} {
				if st[k] != want {
					t.Errorf("container process %s: %q, want %q", k, st[k], want)
				}
			}
			terminateAll(t, map[string]*osRun{name: r})
		})
	}
	e.noLeaks()
}

// TestOSKernelFSReadOnly: a guest given the host's /proc (dirs =
// ["/proc:/proc"]) may read it but not write through it: not the container
// process's own memory (/proc/self/mem, a way out of the sandbox), not the
// host's settings (/proc/sys).
func TestOSKernelFSReadOnly(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	app := e.app(map[string]string{"app.wasm": guests.C(t, "tamper")}, `dirs = ["/proc:/proc"]`, "")
	hostname, _ := os.ReadFile("/proc/sys/kernel/hostname")
	t.Cleanup(func() { // if the guest got through, the host gets its name back
		if now, _ := os.ReadFile("/proc/sys/kernel/hostname"); string(now) != string(hostname) {
			os.WriteFile("/proc/sys/kernel/hostname", hostname, 0o644)
		}
	})
	r := e.run("os", app, "--", "read", "/proc/self/status", "write", "/proc/self/mem", "write", "/proc/sys/kernel/hostname")
	mustExit(t, r, 0)
	want := "read /proc/self/status ok\nwrite /proc/self/mem errno " + wasiEROFS + "\nwrite /proc/sys/kernel/hostname errno " + wasiEROFS
	if got := strings.TrimSpace(r.stdout); got != want {
		t.Errorf("guest reported:\n%s\nwant:\n%s\nstderr:\n%s", got, want, r.stderr)
	}
	if now, _ := os.ReadFile("/proc/sys/kernel/hostname"); string(now) != string(hostname) {
		t.Errorf("hostname changed: %q -> %q", hostname, now)
	}
	e.noLeaks()
}

// TestOSLimits: a guest that takes all the memory, descriptors or CPU it
// can gets what --memory, --max-fds and --cpus allow and no more, while
// the host goes on (the app exits normally, wasmrun reports its status);
// the cgroup that carries the CPU and memory limits goes with the app.
func TestOSLimits(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	hog := guests.C(t, "hog")
	app := e.app(map[string]string{"app.wasm": hog}, "", "")

	r := e.run("os", "--memory", "32m", app, "--", "mem")
	mustExit(t, r, 0)
	var mib int
	if _, err := fmt.Sscanf(r.stdout, "mem %d MiB", &mib); err != nil || mib < 16 || mib > 32 {
		t.Errorf("with --memory 32m the guest got %q (want 16-32 MiB)", r.stdout)
	}

	r = e.run("os", "--max-fds", "64", app, "--", "fds")
	mustExit(t, r, 0)
	var n int
	var errno string
	if _, err := fmt.Sscanf(r.stdout, "fds %d errno %s", &n, &errno); err != nil || n < 16 || n >= 64 || errno != "33" {
		t.Errorf("with --max-fds 64 the guest got %q (want fewer than 64 sockets, then EMFILE 33)", r.stdout)
	}

	// A [limits] table works like the flags.
	limited := e.app(map[string]string{"app.wasm": hog}, "[limits]\nmemory = \"16m\"", "")
	r = e.run("os", limited, "--", "mem")
	mustExit(t, r, 0)
	if _, err := fmt.Sscanf(r.stdout, "mem %d MiB", &mib); err != nil || mib > 16 {
		t.Errorf("with [limits] memory = 16m the guest got %q", r.stdout)
	}

	// CPU: a guest that spins at --cpus 0.5 is throttled by its cgroup.
	spin := e.app(map[string]string{"app.wasm": guests.C(t, "spin")}, "", "")
	run := e.start("--name", "cpu", "--cpus", "0.5", "--memory", "64m", spin, "--", "x")
	run.waitFor("spinning")
	cg := "/sys/fs/cgroup/cpu/wasmrun/" + e.prefix + "-cpu"
	if b, err := os.ReadFile(cg + "/cpu.cfs_quota_us"); err != nil || strings.TrimSpace(string(b)) != "50000" {
		t.Fatalf("cpu.cfs_quota_us of %s: %q, %v", cg, b, err)
	}
	pid := e.containerState("cpu").Pid
	if b, _ := os.ReadFile(cg + "/cgroup.procs"); !strings.Contains("\n"+string(b), fmt.Sprintf("\n%d\n", pid)) {
		t.Errorf("the container process %d is not in %s: %q", pid, cg, b)
	}
	if !waitUntil(30*time.Second, 50*time.Millisecond, func() bool {
		b, _ := os.ReadFile(cg + "/cpu.stat")
		return strings.Contains(string(b), "nr_throttled") && !strings.Contains(string(b), "nr_throttled 0\n")
	}) {
		b, _ := os.ReadFile(cg + "/cpu.stat")
		t.Errorf("the spinning guest was never throttled:\n%s", b)
	}
	terminateAll(t, map[string]*osRun{"cpu": run})
	for _, c := range []string{"cpu", "memory"} {
		if _, err := os.Stat("/sys/fs/cgroup/" + c + "/wasmrun/" + e.prefix + "-cpu"); !os.IsNotExist(err) {
			t.Errorf("the app's %s cgroup is left (%v)", c, err)
		}
	}
	e.noLeaks()
}

// TestOSTmpLimit: a guest that writes all it can to its /tmp gets what
// [limits] tmp (or --tmp) allows, then ENOSPC, and the host's disk none of
// it: the app's /tmp is a tmpfs of that size, mounted on the host for as
// long as the app runs and gone with it. The default leaves room for more
// than the guest tries (64 MiB).
func TestOSTmpLimit(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	e := newOSEnv(t)
	e.privateTmp()
	hog := guests.C(t, "hog")
	for _, tc := range []struct {
		name, top string
		flags     []string
		max       int    // MiB written at most
		errno     string // of the write that failed ("0": none did)
	}{
		{"[limits] tmp", "[limits]\ntmp = \"4m\"", nil, 4, "51"},
		{"--tmp", "", []string{"--tmp", "2m"}, 2, "51"},
		{"default", "", nil, 64, "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := e.app(map[string]string{"app.wasm": hog}, tc.top, "")
			r := e.run(append(append([]string{"os"}, tc.flags...), app, "--", "tmp")...)
			mustExit(t, r, 0)
			var mib int
			var errno string
			if _, err := fmt.Sscanf(r.stdout, "tmp %d MiB errno %s", &mib, &errno); err != nil || errno != tc.errno ||
				mib > tc.max || (tc.errno == "0" && mib != tc.max) {
				t.Errorf("the guest wrote %q; want at most %d MiB, then errno %s (ENOSPC is 51)\nstderr:\n%s", r.stdout, tc.max, tc.errno, r.stderr)
			}
		})
	}
	// While an app runs, its /tmp is a tmpfs mount of the size asked for.
	app := e.app(map[string]string{"app.wasm": guests.C(t, "idle")}, "[limits]\ntmp = \"3m\"", "")
	run := e.start("--name", "idle", app, "--", "60s")
	var tmps []string
	var st unix.Statfs_t
	if !waitUntil(10*time.Second, 20*time.Millisecond, func() bool {
		tmps, _ = filepath.Glob(filepath.Join(e.tmp, "wasmrun-tmp-*"))
		return len(tmps) == 1 && unix.Statfs(tmps[0], &st) == nil && st.Type == unix.TMPFS_MAGIC
	}) || st.Blocks*uint64(st.Bsize) != 3<<20 {
		t.Errorf("the running app's /tmp %v: fs type %#x, %d bytes; want a tmpfs of 3 MiB", tmps, st.Type, st.Blocks*uint64(st.Bsize))
	}
	terminateAll(t, map[string]*osRun{"idle": run})
	e.noLeaks()
}

// TestRunLimits: `wasmrun run` takes the same limits. --memory caps the
// guest, whose module compiles outside it; --cpus (as root) puts the wasmrun process in a cgroup of its own
// that throttles a spinning guest; a run killed in it leaves an empty
// cgroup that the next run with limits removes.
func TestRunLimits(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	r := run(t, nil, "run", "--memory", "32m", guests.C(t, "hog"), "--", "mem")
	mustExit(t, r, 0)
	var mib int
	if _, err := fmt.Sscanf(r.stdout, "mem %d MiB", &mib); err != nil || mib < 16 || mib > 32 {
		t.Errorf("with --memory 32m the guest got %q", r.stdout)
	}
	// Compiling an 11 MiB Go guest takes about 150 MiB for a while: the
	// process enters the cgroup of --memory once the module is compiled.
	// Before, the OOM killer ended every such run without a warm cache.
	r = run(t, nil, "run", "--no-cache", "--memory", "32m", guests.Go(t, "sockhttp"), "--", "get", "http://127.0.0.1:1/")
	mustExit(t, r, 1) // the guest ran: its GET of a closed port failed

	cmd := command(context.Background(), "run", "--cpus", "0.5", guests.C(t, "spin"), "--", "x")
	out := newWatchBuffer()
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		// What the killed run leaves is for the next run with limits;
		// should this test fail before that run, it goes here.
		dirs, _ := filepath.Glob(fmt.Sprintf("/sys/fs/cgroup/*/wasmrun/run-%d", cmd.Process.Pid))
		for _, d := range dirs {
			os.Remove(d)
		}
	})
	cg := fmt.Sprintf("/sys/fs/cgroup/cpu/wasmrun/run-%d", cmd.Process.Pid)
	if !waitUntil(osTimeout, 20*time.Millisecond, func() bool { return strings.Contains(out.String(), "spinning") }) {
		t.Fatal("the guest did not start")
	}
	if b, err := os.ReadFile(cg + "/cpu.cfs_quota_us"); err != nil || strings.TrimSpace(string(b)) != "50000" {
		t.Fatalf("cpu.cfs_quota_us of %s: %q, %v", cg, b, err)
	}
	if !waitUntil(30*time.Second, 50*time.Millisecond, func() bool {
		b, _ := os.ReadFile(cg + "/cpu.stat")
		return strings.Contains(string(b), "nr_throttled") && !strings.Contains(string(b), "nr_throttled 0\n")
	}) {
		t.Error("the spinning guest was never throttled")
	}
	cmd.Process.Kill()
	cmd.Wait()
	r = run(t, nil, "run", "--cpus", "1", guests.C(t, "args_env_exit"))
	if _, err := os.Stat(cg); !os.IsNotExist(err) {
		t.Errorf("the cgroup of the killed run is left after the next run (%v)", err)
	}
}

// TestOSPrivateRoot: once set up, the container process's root is a
// read-only tmpfs of its own holding only the app's directories, the
// resolver's files and its own /proc/self/fd: a process that escaped the
// WebAssembly sandbox finds none of the host's files (nothing of /etc but
// the resolver's, no /root, no other app's directory), and cannot write
// there. The app still runs, serves and resolves.
func TestOSPrivateRoot(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	data := t.TempDir()
	writeFile(t, filepath.Join(data, "note.txt"), "data")
	other := t.TempDir() // another app's directory, say
	writeFile(t, filepath.Join(other, "secret.txt"), "secret")
	app := readableApp(t, map[string]string{"app.wasm": guests.Go(t, "netapp")})
	writeFile(t, filepath.Join(app, ".wasmrun.toml"), `dirs = ["`+data+`:/data"]`+"\n[network]\n"+e.config())
	r := e.start("--name", "root", app, "--", "serve", ":3000")
	r.waitFor("listening 0.0.0.0:3000")
	root := fmt.Sprintf("/proc/%d/root", e.containerState("root").Pid)

	for _, p := range []string{app + "/app.wasm", data + "/note.txt", "/proc/self/fd"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("the app's %s is not in its root: %v", p, err)
		}
	}
	for _, p := range []string{"/etc/passwd", "/etc/shadow", "/root", "/usr/bin", "/var", other + "/secret.txt", "/proc/1"} {
		if _, err := os.Lstat(filepath.Join(root, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the host's %s is in the app's root (%v)", p, err)
		}
	}
	etc, _ := os.ReadDir(filepath.Join(root, "etc"))
	for _, ent := range etc {
		if n := ent.Name(); n != "resolv.conf" && n != "hosts" {
			t.Errorf("/etc/%s is in the app's root", n)
		}
	}
	plantIn(t, root)
	terminateAll(t, map[string]*osRun{"root": r})
	e.noLeaks()
}

// TestOSPreopenThroughLink: a directory preopened through a symlink in
// another preopened directory (--dir A --dir A/link) is resolved within A,
// which a guest may write: a link that stays in A works (the app writes
// through it where it leads); one that leads out of A, as a guest that
// had A could have put in place of a directory to get the host's /etc
// next time, makes the app fail to start with one line that says why, and
// nothing is written where it leads.
func TestOSPreopenThroughLink(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	outer, target := t.TempDir(), t.TempDir()
	for _, d := range []string{outer, target, filepath.Join(outer, "real")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for link, to := range map[string]string{"link": "real", "out": target} {
		if err := os.Symlink(to, filepath.Join(outer, link)); err != nil {
			t.Fatal(err)
		}
	}
	// The outer directory spelled through a link to it is the same one.
	olink := filepath.Join(t.TempDir(), "olink")
	if err := os.Symlink(outer, olink); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		a, link string
		ok      bool
	}{{outer, "link", true}, {outer, "out", false}, {olink, "link", true}, {olink, "out", false}} {
		app := readableApp(t, map[string]string{"app.wasm": guests.Go(t, "files")})
		writeFile(t, filepath.Join(app, ".wasmrun.toml"),
			`dirs = ["`+tc.a+`:/a", "`+filepath.Join(outer, tc.link)+`:/b"]`+"\n[network]\n"+e.config())
		r := e.run("os", app, "--", "/b", "2")
		if !tc.ok {
			mustExit(t, r, 125)
			if !strings.Contains(r.stderr, "another of the guest's directories") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
				t.Errorf("a link out of /a: stderr does not say why in one line:\n%s", r.stderr)
			}
			if ents, _ := os.ReadDir(target); len(ents) > 0 {
				t.Errorf("the app wrote where the link leads: %v", ents)
			}
			continue
		}
		if r.code != 0 || strings.Contains(r.stdout, "FAIL") {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		if got := readFile(t, filepath.Join(outer, "real", "work", "b.txt")); got != "hello, world\nmore" {
			t.Errorf("%s/real/work/b.txt: %q, want what the app wrote through /b", outer, got)
		}
		os.RemoveAll(filepath.Join(outer, "real", "work"))
	}
	e.noLeaks()
}

// TestOSOOMKilled: an app the kernel's OOM killer ends (it fills its /tmp,
// whose pages are memory charged to its cgroup, past --memory plus the
// runtime's share) exits 137 with one line that says why; an app that
// stays within its memory, or is killed by someone else, gets no such
// line.
func TestOSOOMKilled(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	e := newOSEnv(t)
	e.privateTmp()
	app := e.app(map[string]string{"app.wasm": guests.C(t, "hog")}, "", "")
	const why = "was killed by the kernel's OOM killer"
	r := e.run("os", "--memory", "16m", app, "--", "tmp", "200")
	mustExit(t, r, 137)
	if !strings.Contains(r.stderr, why) || !strings.Contains(r.stderr, "(80 MiB: --memory 16m plus 64 MiB for the runtime") {
		t.Errorf("stderr does not say the OOM killer ended it, within 80 MiB:\n%s", r.stderr)
	}
	r = e.run("os", "--memory", "16m", app, "--", "tmp", "8")
	mustExit(t, r, 0)
	if strings.Contains(r.stderr, why) {
		t.Errorf("an app within its memory: %s", r.stderr)
	}
	run := e.start("--verbose", "--name", "killed", "--memory", "16m", e.app(map[string]string{"app.wasm": guests.C(t, "idle")}, "", ""), "--", "60s")
	run.waitFor("app killed running as pid")
	pid := e.initProcess("killed", 0)
	if pid == 0 {
		t.Fatal("no container process for the idle app")
	}
	if err := unix.Kill(pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := run.wait(); code != 137 || strings.Contains(run.stderr.String(), why) {
		t.Errorf("killed by SIGKILL from outside: exit %d, stderr:\n%s", code, run.stderr.String())
	}
	e.noLeaks()
}

// TestOSCompileRoom: compiling a module takes many times its size for a
// while (a Go guest of 11 MiB, about 150 MiB), far more than running it:
// the container's cgroup has room for that until the module is loaded,
// then the container's limit, before any guest code runs. Before, `--memory
// 32m` (a 96 MiB cgroup) could never start a Go HTTP guest without a warm
// cache: the OOM killer ended every compile. When the compiled module and
// the runtime alone take more than the limit, one line says so.
func TestOSCompileRoom(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	e := newOSEnv(t)
	app := e.app(map[string]string{"app.wasm": guests.Go(t, "sockhttp")}, "", "")
	r := e.run("os", "--no-cache", "--memory", "32m", app, "--", "get", "http://127.0.0.1:1/")
	// The guest ran: its GET of a closed port failed, its own exit 1.
	mustExit(t, r, 1)
	r = e.run("os", "--no-cache", "--memory", "8m", app, "--", "get", "http://127.0.0.1:1/")
	mustExit(t, r, 125)
	if !strings.Contains(r.stderr, "more than the container's memory limit (72 MiB): give it more memory") {
		t.Errorf("--memory 8m: stderr does not say the loaded module does not fit 72 MiB:\n%s", r.stderr)
	}
	// The room is gone before the guest's code runs: a running guest has
	// the limit, not the limit and the room.
	run := e.start("--verbose", "--name", "room", "--memory", "32m", e.app(map[string]string{"app.wasm": guests.C(t, "idle")}, "", ""), "--", "60s")
	run.waitFor("app room running as pid")
	pid := e.initProcess("room", 0)
	cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(cg), "\n") {
		if f := strings.SplitN(l, ":", 3); len(f) == 3 && (f[1] == "memory" || f[1] == "") {
			file := "/sys/fs/cgroup/memory" + f[2] + "/memory.limit_in_bytes"
			if f[1] == "" {
				file = "/sys/fs/cgroup" + f[2] + "/memory.max"
			}
			if got := strings.TrimSpace(readFile(t, file)); got != strconv.Itoa(96<<20) {
				t.Errorf("the running guest's %s is %s, want %d (--memory 32m plus 64 MiB)", file, got, 96<<20)
			}
			break
		}
	}
	terminateAll(t, map[string]*osRun{"room": run})
	e.noLeaks()
}

// plantIn fails t unless creating a file at the top of root (a container
// process's /proc/PID/root) fails with EROFS; a file that got there (the
// host's / when the process has no root of its own) is removed at once.
func plantIn(t *testing.T, root string) {
	t.Helper()
	p := filepath.Join(root, fmt.Sprintf("wasmrun-planted-%d", time.Now().UnixNano()))
	err := os.WriteFile(p, nil, 0o644)
	if err == nil {
		os.Remove(p)
	}
	if !errors.Is(err, unix.EROFS) {
		t.Errorf("create %s: %v, want EROFS", p, err)
	}
}

// TestOSInheritedFDs: a descriptor that whoever started `wasmrun os` left
// open without close-on-exec (a shell's `exec 7<secret`, a supervisor's
// lock) is wasmrun's alone: it does not pass on to the container process,
// where a guest that escaped WebAssembly could read it after the process
// dropped to the app's user.
func TestOSInheritedFDs(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	e := newOSEnv(t)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("root only"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(secret)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	app := e.app(map[string]string{"app.wasm": guests.C(t, "idle")}, "", "")
	// fd 7, as `exec 7<secret` leaves it (fds 3-6 closed): one the
	// container process's own descriptors are not put over.
	run := e.startCmd(func(cmd *exec.Cmd) { cmd.ExtraFiles = []*os.File{nil, nil, nil, nil, f} }, "--name", "fds", app, "--", "60s")
	pid := 0
	if !waitUntil(osTimeout, 20*time.Millisecond, func() bool {
		if fileExists(filepath.Join(e.state, "containers", "fds", "state.json")) {
			pid = e.containerState("fds").Pid
		}
		return pid > 0
	}) {
		t.Fatalf("no container process\nstderr:\n%s", run.stderr)
	}
	if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/7", run.cmd.Process.Pid)); err != nil || l != secret {
		t.Fatalf("wasmrun os did not inherit the descriptor to begin with: fd 7 %q, %v", l, err)
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range ents {
		if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, ent.Name())); l == secret {
			t.Errorf("the container process %d holds the inherited %s as fd %s", pid, secret, ent.Name())
		}
	}
	terminateAll(t, map[string]*osRun{"fds": run})
	e.noLeaks()
}
