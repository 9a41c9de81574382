package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/cni"
	"github.com/wasmrun/wasmrun/internal/guests"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
}

// testRuntime returns a Runtime with private state, and a CNI manager with a
// unique prefix and private directories, torn down at the end of the test.
func testRuntime(t *testing.T) *Runtime {
	t.Helper()
	dir := t.TempDir()
	rt := &Runtime{Root: filepath.Join(dir, "containers"), Log: t.Logf}
	rt.Network = NetworkConfig{
		Prefix:   fmt.Sprintf("wrt%d", os.Getpid()%100000),
		StateDir: filepath.Join(dir, "netns-state"),
		CacheDir: filepath.Join(dir, "cni-cache"),
		Log:      t.Logf,
	}
	t.Cleanup(func() {
		ids, _ := rt.List()
		for _, id := range ids {
			rt.Delete(context.Background(), id, true)
		}
	})
	return rt
}

// bundle writes a bundle whose rootfs holds wasm as /app.wasm.
func bundle(t *testing.T, wasm string, args []string, netns bool) string {
	t.Helper()
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(wasm)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "app.wasm"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	spec := &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: "rootfs"},
		Process: &specs.Process{Args: append([]string{"/app.wasm"}, args...), Env: []string{"GREETING=hi"}, Cwd: "/"},
	}
	if netns {
		spec.Linux = &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.NetworkNamespace}}}
	}
	j, _ := json.Marshal(spec)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), j, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func waitCode(t *testing.T, c *Container) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, err := c.Wait(ctx)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	return code
}

func TestLifecycle(t *testing.T) {
	rt := testRuntime(t)
	wasm := guests.C(t, "args_env_exit")
	var out bytes.Buffer
	r, w, _ := os.Pipe()
	defer r.Close()
	c, err := rt.Create(context.Background(), "life", bundle(t, wasm, []string{"42", "a b"}, false), CreateOpts{Stdout: w, Stderr: w})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	st, err := rt.State("life")
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != specs.StateCreated || st.Pid != c.Pid || st.Pid <= 0 {
		t.Fatalf("after create: %+v", st)
	}
	if err := rt.Start(context.Background(), "life"); err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(context.Background(), "life"); !errors.Is(err, ErrFailedPrecondition) {
		t.Fatalf("second start: %v, want ErrFailedPrecondition", err)
	}
	if code := waitCode(t, c); code != 42 {
		t.Errorf("exit code %d, want 42", code)
	}
	out.ReadFrom(r)
	if !strings.Contains(out.String(), "a b") || !strings.Contains(out.String(), "GREETING=hi") {
		t.Errorf("guest output %q lacks its args or env", out.String())
	}
	if st, _ := rt.State("life"); st.Status != specs.StateStopped || st.Pid != 0 {
		t.Errorf("after exit: %+v", st)
	}
	if err := rt.Delete(context.Background(), "life", false); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.State("life"); !errors.Is(err, ErrNotFound) {
		t.Errorf("state after delete: %v, want ErrNotFound", err)
	}
}

func TestKillTightLoop(t *testing.T) {
	rt := testRuntime(t)
	wasm := guests.C(t, "spin")
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			id := fmt.Sprintf("spin%d", sig)
			r, w, _ := os.Pipe()
			defer r.Close()
			c, err := rt.Create(context.Background(), id, bundle(t, wasm, []string{"announce"}, false), CreateOpts{Stdout: w})
			w.Close()
			if err != nil {
				t.Fatal(err)
			}
			if err := rt.Start(context.Background(), id); err != nil {
				t.Fatal(err)
			}
			// Wait until the guest is in its loop before signalling it.
			line := make([]byte, 9)
			if _, err := r.Read(line); err != nil || string(line) != "spinning\n" {
				t.Fatalf("guest said %q, %v", line, err)
			}
			if st, _ := rt.State(id); st.Status != specs.StateRunning {
				t.Fatalf("status %s, want running", st.Status)
			}
			if err := rt.Kill(id, sig); err != nil {
				t.Fatal(err)
			}
			if code := waitCode(t, c); code != 128+int(sig) {
				t.Errorf("exit status %d, want %d", code, 128+int(sig))
			}
			if err := rt.Delete(context.Background(), id, false); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestStateFromFreshRuntime drives a container created by one Runtime from
// another, as a second CLI process or a restarted shim would.
func TestStateFromFreshRuntime(t *testing.T) {
	rt := testRuntime(t)
	c, err := rt.Create(context.Background(), "fresh", bundle(t, guests.C(t, "spin"), nil, false), CreateOpts{})
	if err != nil {
		t.Fatal(err)
	}
	other := &Runtime{Root: rt.Root, Network: rt.Network}
	if st, err := other.State("fresh"); err != nil || st.Status != specs.StateCreated {
		t.Fatalf("fresh runtime sees %+v, %v", st, err)
	}
	if err := other.Start(context.Background(), "fresh"); err != nil {
		t.Fatal(err)
	}
	if err := other.Delete(context.Background(), "fresh", false); !errors.Is(err, ErrFailedPrecondition) {
		t.Fatalf("delete of a running container: %v, want ErrFailedPrecondition", err)
	}
	if err := other.Kill("fresh", syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := waitCode(t, c); code != 137 {
		t.Errorf("exit status %d, want 137", code)
	}
	if err := other.Delete(context.Background(), "fresh", false); err != nil {
		t.Fatal(err)
	}
	ids, _ := rt.List()
	if len(ids) != 0 {
		t.Errorf("containers left: %v", ids)
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// TestProcessInNamespace checks the container-process contract: between
// Create and Start, /proc/<pid>/ns/net is the container's namespace (what
// CRI and nerdctl hooks read), and Delete removes the namespace.
func TestProcessInNamespace(t *testing.T) {
	needRoot(t)
	rt := testRuntime(t)
	c, err := rt.Create(context.Background(), "netns", bundle(t, guests.C(t, "spin"), nil, true), CreateOpts{})
	if err != nil {
		t.Fatal(err)
	}
	nsPath := filepath.Join("/run/netns", nsName(rt, "netns"))
	if got, want := inode(t, fmt.Sprintf("/proc/%d/ns/net", c.Pid)), inode(t, nsPath); got != want {
		t.Errorf("/proc/%d/ns/net is inode %d, the container namespace %s is %d", c.Pid, got, nsPath, want)
	}
	// The host's namespace is this thread's (/proc/self is the main
	// thread's, which Go may have lent to a locked goroutine in another).
	runtime.LockOSThread()
	host := inode(t, "/proc/thread-self/ns/net")
	runtime.UnlockOSThread()
	if got := inode(t, fmt.Sprintf("/proc/%d/ns/net", c.Pid)); got == host {
		t.Error("the container process is in the host namespace")
	}
	// Every thread, not just the main one.
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", c.Pid))
	for _, task := range tasks {
		if got, want := inode(t, fmt.Sprintf("/proc/%d/task/%s/ns/net", c.Pid, task.Name())), inode(t, nsPath); got != want {
			t.Errorf("thread %s is in namespace inode %d, want %d", task.Name(), got, want)
		}
	}
	if err := rt.Kill("netns", syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitCode(t, c)
	if err := rt.Delete(context.Background(), "netns", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(nsPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("namespace %s left after delete: %v", nsPath, err)
	}
}

func TestCreateErrorsLeaveNothing(t *testing.T) {
	needRoot(t)
	rt := testRuntime(t)
	good := guests.C(t, "args_env_exit")
	notWasm := filepath.Join(t.TempDir(), "x.wasm")
	os.WriteFile(notWasm, []byte("#!/bin/sh\necho hi\n"), 0o755)

	for _, tc := range []struct {
		name, want string
		bundle     func() string
	}{
		{"missing module", "not found in the container root", func() string {
			b := bundle(t, good, nil, true)
			os.Remove(filepath.Join(b, "rootfs", "app.wasm"))
			return b
		}},
		{"not wasm", "not a WebAssembly binary", func() string { return bundle(t, notWasm, nil, true) }},
		{"no args", "nothing to run", func() string {
			b := bundle(t, good, nil, true)
			os.WriteFile(filepath.Join(b, "config.json"), []byte(`{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":[]}}`), 0o644)
			return b
		}},
		{"no process", "nothing to run", func() string {
			b := bundle(t, good, nil, true)
			os.WriteFile(filepath.Join(b, "config.json"), []byte(`{"ociVersion":"1.0.2","root":{"path":"rootfs"}}`), 0o644)
			return b
		}},
		// Kubernetes' hostUsers: false: the container's root would be the
		// host's, unmapped.
		{"user namespace", "asks for a user namespace", func() string {
			b := bundle(t, good, nil, true)
			os.WriteFile(filepath.Join(b, "config.json"), []byte(`{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["/app.wasm"],"cwd":"/"},`+
				`"linux":{"namespaces":[{"type":"user"},{"type":"network"}],"uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],"gidMappings":[{"containerID":0,"hostID":100000,"size":65536}]}}`), 0o644)
			return b
		}},
		// An image's file of any size: refused by its size, before any
		// compile room is made for it or a byte of it read.
		{"huge module", "more than wasmrun loads", func() string {
			b := bundle(t, good, nil, true)
			if err := os.Truncate(filepath.Join(b, "rootfs", "app.wasm"), 2<<30); err != nil {
				t.Fatal(err)
			}
			return b
		}},
		{"bad umask", "not a umask", func() string {
			b := bundle(t, good, nil, true)
			withSpec(t, b, func(s *specs.Spec) { s.Process.User.Umask = ptr(uint32(0o4022)) })
			return b
		}},
		// A failing hook after the process exists: its clean-up kills the
		// process (it used the named result, nil by then: a panic).
		{"failing createRuntime hook", "OCI hook /bin/false", func() string {
			b := bundle(t, good, nil, true)
			withSpec(t, b, func(s *specs.Spec) {
				s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/false"}}}
			})
			return b
		}},
		{"host sysctl", `sysctl "kernel.panic": not allowed`, func() string {
			b := bundle(t, good, nil, true)
			os.WriteFile(filepath.Join(b, "config.json"), []byte(`{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["/app.wasm"],"cwd":"/"},`+
				`"linux":{"namespaces":[{"type":"network"}],"sysctl":{"kernel.panic":"7"}}}`), 0o644)
			return b
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := strings.ReplaceAll(tc.name, " ", "-")
			_, err := rt.Create(context.Background(), id, tc.bundle(), CreateOpts{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("create: %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is more than one line: %q", err)
			}
			if _, err := os.Stat(filepath.Join(rt.Root, id)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("state dir left behind")
			}
			if _, err := os.Stat(filepath.Join("/run/netns", nsName(rt, id))); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("namespace left behind")
			}
		})
	}
}

// TestGCRemovesOrphans makes a container whose creator is gone (its owner
// rewritten to an exited process) and checks GC kills and removes it, while
// a container whose creator lives is kept.
func TestGCRemovesOrphans(t *testing.T) {
	needRoot(t)
	rt := testRuntime(t)
	wasm := guests.C(t, "spin")
	orphan, err := rt.Create(context.Background(), "orphan", bundle(t, wasm, nil, true), CreateOpts{})
	if err != nil {
		t.Fatal(err)
	}
	kept, err := rt.Create(context.Background(), "kept", bundle(t, wasm, nil, true), CreateOpts{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := rt.readState("orphan")
	if err != nil {
		t.Fatal(err)
	}
	dead := exitedPid(t)
	st.Owner, st.OwnerTime = dead, 12345
	if err := rt.writeState(st); err != nil {
		t.Fatal(err)
	}
	removed, err := rt.GC(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != "orphan" {
		t.Fatalf("GC removed %v, want [orphan]", removed)
	}
	if code := waitCode(t, orphan); code != 137 {
		t.Errorf("orphan exit status %d, want 137", code)
	}
	if _, err := os.Stat(filepath.Join("/run/netns", nsName(rt, "orphan"))); !errors.Is(err, os.ErrNotExist) {
		t.Error("orphan's namespace survived GC")
	}
	if s, err := rt.State("kept"); err != nil || s.Status != specs.StateCreated {
		t.Fatalf("kept container: %+v, %v", s, err)
	}
	rt.Kill("kept", syscall.SIGKILL)
	waitCode(t, kept)
}

// A leftover created with one namespace prefix is cleaned up completely by
// a runtime with another prefix on the same state (a `wasmrun os` whose
// app sets namespace_prefix, killed, then any other run).
func TestGCOrphanOfAnotherPrefix(t *testing.T) {
	needRoot(t)
	rt := testRuntime(t)
	orphan, err := rt.Create(context.Background(), "other", bundle(t, guests.C(t, "spin"), nil, true), CreateOpts{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // if GC left it, so it is not left on the host
		if m, err := cni.New(rt.Network); err == nil {
			if n, err := m.Open("other"); err == nil {
				n.Teardown(context.Background())
			}
		}
	})
	st, err := rt.readState("other")
	if err != nil {
		t.Fatal(err)
	}
	st.Owner, st.OwnerTime = exitedPid(t), 12345
	if err := rt.writeState(st); err != nil {
		t.Fatal(err)
	}
	cfg := rt.Network
	cfg.Prefix += "x"
	other := &Runtime{Root: rt.Root, Network: cfg, Log: t.Logf}
	if removed, err := other.GC(context.Background()); err != nil || len(removed) != 1 {
		t.Fatalf("GC with another prefix: removed %v, %v; want [other]", removed, err)
	}
	waitCode(t, orphan)
	if _, err := os.Stat(st.Net.Path); st.Net.Path == "" || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("namespace %q survived GC by a runtime with another prefix", st.Net.Path)
	}
	m, err := cni.New(rt.Network)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Open("other"); !errors.Is(err, cni.ErrNotFound) {
		t.Errorf("CNI state of the orphan survived GC: %v", err)
	}
}

// exitedPid returns the pid of a process that has exited.
func exitedPid(t *testing.T) int {
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	p.Wait()
	return p.Pid
}

// ModulePath puts a module that is not there yet (a wasm image layer the
// shim is about to write) where Create will look for it: relative to
// process.cwd, through symlinks that stay inside the root.
func TestModulePath(t *testing.T) {
	root := t.TempDir()
	if err := os.Symlink("/usr/lib", filepath.Join(root, "lib")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ cwd, arg, want string }{
		{"/app", "app.wasm#run", "/app/app.wasm"},
		{"", "/lib/x.wasm", "/usr/lib/x.wasm"}, // the absolute link resolves inside root
		{"/", "../../x.wasm", "/x.wasm"},
	} {
		s := &specs.Spec{Process: &specs.Process{Args: []string{tc.arg}, Cwd: tc.cwd}}
		m, err := ModulePath(root, s)
		if err != nil {
			t.Fatalf("%s in %s: %v", tc.arg, tc.cwd, err)
		}
		if want := filepath.Join(root, tc.want); m.HostPath != want {
			t.Errorf("%s in %s: host path %s, want %s", tc.arg, tc.cwd, m.HostPath, want)
		}
	}
	if _, err := ModulePath(root, &specs.Spec{}); err == nil {
		t.Error("a spec without process.args: no error")
	}

	// A root written with a trailing slash (or /./, //), as a client may
	// give it: a link that climbs out of it still stops at it. Before, it
	// led to the host's file, which the shim then read, or wrote.
	outside := filepath.Join(t.TempDir(), "host.wasm")
	rel, err := filepath.Rel(root, outside)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("d/../"+rel, filepath.Join(root, "escape.wasm")); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{root + "/", root + "/.", root + "//", root + "/d/.."} {
		m, err := ModulePath(r, &specs.Spec{Process: &specs.Process{Args: []string{"/escape.wasm"}}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(m.HostPath, root+"/") {
			t.Errorf("root %q: /escape.wasm is %s, outside the root", r, m.HostPath)
		}
	}
	spec := &specs.Spec{Root: &specs.Root{Path: root + "/./"}}
	if got := RootPath("/bundle", spec); got != root {
		t.Errorf("RootPath of %q: %q, want it clean", spec.Root.Path, got)
	}
}

// nsName is the name of container id's own namespace under rt.
func nsName(rt *Runtime, id string) string { return rt.Network.Prefix + "-" + id }

// TestCreateCrashLeavesNoName: a creator killed while it made a state
// directory leaves it aside, never under the id: the id can be created
// again at once, List does not show the leftover, and GC removes it once
// its creator is gone.
func TestCreateCrashLeavesNoName(t *testing.T) {
	rt := testRuntime(t)
	os.MkdirAll(rt.Root, 0o711)
	withState := filepath.Join(rt.Root, creatingPrefix+"crashed-1")
	os.Mkdir(withState, 0o700)
	b, _ := json.Marshal(&stateFile{ID: "crashed", Owner: exitedPid(t), OwnerTime: 1})
	os.WriteFile(filepath.Join(withState, "state.json"), b, 0o600)
	live := filepath.Join(rt.Root, creatingPrefix+"busy-1")
	os.Mkdir(live, 0o700)
	b, _ = json.Marshal(&stateFile{ID: "busy", Owner: os.Getpid(), OwnerTime: pidStartTime(os.Getpid())})
	os.WriteFile(filepath.Join(live, "state.json"), b, 0o600)

	if ids, _ := rt.List(); len(ids) != 0 {
		t.Errorf("List shows %v", ids)
	}
	c, err := rt.Create(context.Background(), "crashed", bundle(t, guests.C(t, "args_env_exit"), nil, false), CreateOpts{})
	if err != nil {
		t.Fatalf("create under the crashed one's id: %v", err)
	}
	rt.Kill("crashed", syscall.SIGKILL)
	waitCode(t, c)
	if _, err := rt.GC(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(withState); !os.IsNotExist(err) {
		t.Errorf("GC left the crashed creator's directory (%v)", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("GC removed the directory of a creator that lives: %v", err)
	}
	os.RemoveAll(live)
}

// TestCreateWithoutInitProgram: without the container process program the
// error says what is missing and where it belongs, and nothing is left.
func TestCreateWithoutInitProgram(t *testing.T) {
	needRoot(t)
	root := t.TempDir()
	missing := filepath.Join(t.TempDir(), InitProgram)
	rt := &Runtime{Root: root, Network: testRuntime(t).Network, Log: t.Logf, Init: missing}
	_, err := rt.Create(context.Background(), "noinit", bundle(t, guests.C(t, "args_env_exit"), nil, true), CreateOpts{})
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "installed next to") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("create: %v, want one line naming %s and where it is installed", err, missing)
	}
	if ents, _ := os.ReadDir(root); len(ents) != 0 {
		t.Errorf("state left behind: %v", ents)
	}
	if _, err := os.Stat(filepath.Join("/run/netns", nsName(rt, "noinit"))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("namespace left behind")
	}
}

// TestCreateStatusBounded: a container process that writes without end
// where its ready report goes (a guest that took it over in its start
// function) fails the create, is killed, and costs the creator no more
// than the report's bound in memory, whatever it writes (here 256 MiB).
func TestCreateStatusBounded(t *testing.T) {
	needRoot(t)
	root := t.TempDir()
	flood := filepath.Join(t.TempDir(), "flood")
	if err := os.WriteFile(flood, []byte("#!/bin/sh\nexec head -c 268435456 /dev/zero >&4\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	rt := &Runtime{Root: root, Network: testRuntime(t).Network, Log: t.Logf, Init: flood}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := rt.Create(context.Background(), "flood", bundle(t, guests.C(t, "args_env_exit"), nil, true), CreateOpts{})
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("create of a process that floods its report succeeded")
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Errorf("the creator allocated %d MiB reading the report", grew>>20)
	}
	if ents, _ := os.ReadDir(root); len(ents) != 0 {
		t.Errorf("state left behind: %v", ents)
	}
}

// TestCapabilitiesAreTheSpecs: the container process of a root spec that
// lists one capability holds exactly that one in its bounding, permitted
// and effective sets and nothing inheritable or ambient: none of the
// capabilities it was born with for its setup (inheritable at birth, so
// that root's exec permits them: CAP_SYS_ADMIN, CAP_SETPCAP, ...) is left
// in any set a guest that took over the process could use.
func TestCapabilitiesAreTheSpecs(t *testing.T) {
	needRoot(t)
	rt := testRuntime(t)
	b := bundle(t, guests.C(t, "spin"), nil, false)
	one := []string{"CAP_NET_BIND_SERVICE"}
	withSpec(t, b, func(s *specs.Spec) {
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: one, Permitted: one, Effective: one}
	})
	c, err := rt.Create(context.Background(), "caps", b, CreateOpts{})
	if err != nil {
		t.Fatal(err)
	}
	// Created: the process has dropped its privileges and waits to start.
	status := string(mustRead(t, fmt.Sprintf("/proc/%d/status", c.Pid)))
	want := map[string]string{
		"CapBnd": "0000000000000400", "CapPrm": "0000000000000400", "CapEff": "0000000000000400",
		"CapInh": "0000000000000000", "CapAmb": "0000000000000000",
	}
	for _, l := range strings.Split(status, "\n") {
		k, v, _ := strings.Cut(l, ":")
		if w, ok := want[k]; ok {
			if got := strings.TrimSpace(v); got != w {
				t.Errorf("%s %s, want %s", k, got, w)
			}
			delete(want, k)
		}
	}
	if len(want) > 0 {
		t.Errorf("not in /proc/%d/status: %v", c.Pid, want)
	}
	rt.Kill("caps", syscall.SIGKILL)
	waitCode(t, c)
}

// TestUmask: process.user.umask is the container process's umask: the
// guest's new files and directories lack its bits (the kernel's
// Umask: line says so too); without one, the creator's stays.
func TestUmask(t *testing.T) {
	needRoot(t)
	rt := testRuntime(t)
	for _, tc := range []struct {
		name       string
		umask      *uint32
		file, dir  os.FileMode
		procStatus string
	}{
		{"spec 027", ptr(uint32(0o027)), 0o640, 0o750, "0027"},
		{"none: the creator's", nil, 0o666 &^ creatorUmask(), 0o777 &^ creatorUmask(), fmt.Sprintf("%04o", creatorUmask())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bundle(t, guests.C(t, "tamper"), []string{"create", "/f", "mkdir", "/d"}, false)
			withSpec(t, b, func(s *specs.Spec) { s.Process.User.Umask = tc.umask })
			id := "umask-" + strings.ReplaceAll(strings.Fields(tc.name)[0], ":", "")
			c, err := rt.Create(context.Background(), id, b, CreateOpts{})
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range strings.Split(string(mustRead(t, fmt.Sprintf("/proc/%d/status", c.Pid))), "\n") {
				if k, v, _ := strings.Cut(l, ":"); k == "Umask" && strings.TrimSpace(v) != tc.procStatus {
					t.Errorf("the container process's umask %s, want %s", strings.TrimSpace(v), tc.procStatus)
				}
			}
			if err := rt.Start(context.Background(), id); err != nil {
				t.Fatal(err)
			}
			if code := waitCode(t, c); code != 0 {
				t.Fatalf("guest exited %d", code)
			}
			for name, want := range map[string]os.FileMode{"f": tc.file, "d": tc.dir} {
				fi, err := os.Stat(filepath.Join(b, "rootfs", name))
				if err != nil || fi.Mode().Perm() != want {
					t.Errorf("/%s: %v, %v; want mode %v", name, fi.Mode().Perm(), err, want)
				}
			}
		})
	}
}

// creatorUmask is this process's umask.
func creatorUmask() os.FileMode {
	u := syscall.Umask(0)
	syscall.Umask(u)
	return os.FileMode(u)
}

func ptr[T any](v T) *T { return &v }
