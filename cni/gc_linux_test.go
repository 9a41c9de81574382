package cni

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/wasmrun/wasmrun/internal/liveness"
)

// startOwner starts a process to own a namespace; kill() ends and reaps it.
func startOwner(t *testing.T) (pid int, kill func()) {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := false
	kill = func() {
		if !done {
			done = true
			cmd.Process.Kill()
			cmd.Wait()
		}
	}
	t.Cleanup(kill)
	return cmd.Process.Pid, kill
}

func TestGC(t *testing.T) {
	requirePlugins(t, "bridge", "host-local", "portmap")
	e := newTestEnv(t)
	ctx := context.Background()
	deadPID, kill := startOwner(t)
	alivePID, _ := startOwner(t)
	port := freePort(t)
	dead := e.setup(Request{Mode: ModeNew, ID: e.id(), OwnerPID: deadPID,
		Forwards: []Forward{{HostIP: "127.0.0.1", HostPort: port, GuestPort: 80}}})
	alive := e.setup(Request{Mode: ModeNew, ID: e.id(), OwnerPID: alivePID})
	mine := e.setup(Request{Mode: ModeNew, ID: e.id()})
	// A namespace we own the state of, whose owner becomes the dead process
	// later through SetOwner.
	handed := e.setup(Request{Mode: ModeNew, ID: e.id()})
	if err := handed.SetOwner(deadPID); err != nil {
		t.Fatal(err)
	}
	// A namespace file with our prefix but no state and nobody inside:
	// someone else's (a run of ours writes its state first), left alone.
	orphan := filepath.Join(e.cfg.NetnsDir, e.prefix+"-orphan")
	if err := createNetns(orphan, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteNetns(orphan) })
	// A namespace of another prefix: never touched.
	other := filepath.Join(e.cfg.NetnsDir, e.prefix+"x-other")
	if err := createNetns(other, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteNetns(other) })

	removed, err := e.m.GC(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 0 {
		t.Fatalf("GC with all owners alive removed %v, want nothing", removed)
	}
	kill()
	removed, err = e.m.GC(ctx, e.prefix)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	want := []string{dead.Name, handed.Name}
	slices.Sort(want)
	if !slices.Equal(removed, want) {
		t.Fatalf("GC removed %v, want %v", removed, want)
	}
	e.assertGone(dead.Name, port)
	e.assertGone(handed.Name)
	for _, n := range []*Namespace{alive, mine} {
		if _, err := os.Stat(n.Path); err != nil {
			t.Errorf("GC removed live %s: %v", n.Name, err)
		}
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("GC removed another prefix's namespace: %v", err)
	}
	if _, err := os.Stat(orphan); err != nil {
		t.Errorf("GC removed a namespace with our prefix that no state of ours names: %v", err)
	}
	// Teardown after GC is a no-op.
	if err := dead.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
}

// Re-creating an id whose earlier owner crashed first removes the
// leftovers (CNI DEL included); an id whose owner lives is refused.
func TestRecreateAfterCrash(t *testing.T) {
	requirePlugins(t, "bridge", "host-local", "portmap")
	e := newTestEnv(t)
	ctx := context.Background()
	pid, kill := startOwner(t)
	port := freePort(t)
	id := e.id()
	fw := []Forward{{HostIP: "127.0.0.1", HostPort: port, GuestPort: 3000}}
	first := e.setup(Request{Mode: ModeNew, ID: id, OwnerPID: pid, Forwards: fw})
	if _, err := e.m.Setup(ctx, Request{Mode: ModeNew, ID: id}); err == nil {
		t.Fatal("Setup of a live id succeeded")
	}
	kill()
	second := e.setup(Request{Mode: ModeNew, ID: id, Forwards: fw})
	if len(e.leases()) != 1 {
		t.Fatalf("leases after re-create: %v", e.leases())
	}
	startEcho(t, second, ":3000", "S", false)
	if got, err := askTCP(fmt.Sprintf("127.0.0.1:%d", port), "x"); err != nil || got != "S: x" {
		t.Fatalf("forward after re-create: %q, %v", got, err)
	}
	if err := second.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	e.assertGone(first.Name, port)
}

func TestListAndAlive(t *testing.T) {
	e := newTestEnv(t)
	pid, kill := startOwner(t)
	a := e.setup(Request{Mode: ModeNew, ID: "a"})
	b := e.setup(Request{Mode: ModeNew, ID: "b", OwnerPID: pid})
	list, err := e.m.List()
	if err != nil || len(list) != 2 {
		t.Fatalf("List: %d, %v", len(list), err)
	}
	for _, n := range list {
		want := os.Getpid()
		if n.Name == b.Name {
			want = pid
		}
		if n.OwnerPID != want || !n.Alive() {
			t.Errorf("%s: owner %d alive %v, want %d alive", n.Name, n.OwnerPID, n.Alive(), want)
		}
	}
	kill()
	if b.Alive() || !a.Alive() {
		t.Fatalf("after kill: a alive %v, b alive %v", a.Alive(), b.Alive())
	}
	if err := a.Teardown(context.Background()); err != nil || a.Alive() {
		t.Fatalf("after teardown: %v, alive %v", err, a.Alive())
	}
}

// TestGCRemovesDeadTemps: a state file whose writer was killed between
// writing and renaming it is removed by GC; one being written by a live
// process, and files of other forms, are not.
func TestGCRemovesDeadTemps(t *testing.T) {
	dir := t.TempDir()
	m, err := New(Config{StateDir: dir, NetnsDir: t.TempDir(), Prefix: "wtgc"})
	if err != nil {
		t.Fatal(err)
	}
	pid, kill := startOwner(t)
	start, err := liveness.StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	kill()
	dead := filepath.Join(dir, fmt.Sprintf(".p-a.b.%d-%d.123.tmp", pid, start))
	live, err := os.CreateTemp(dir, tempStatePattern("p-live"))
	if err != nil {
		t.Fatal(err)
	}
	live.Close()
	other := filepath.Join(dir, ".other.tmp")
	for _, f := range []string{dead, other} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if p, s, ok := tempStateWriter(filepath.Base(dead)); !ok || p != pid || s != start {
		t.Errorf("tempStateWriter(%s) = %d, %d, %v", filepath.Base(dead), p, s, ok)
	}
	if _, err := m.GC(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("the dead writer's temporary state is left (%v)", err)
	}
	for _, f := range []string{live.Name(), other} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(f), err)
		}
	}
}

// TestWaitPluginsOnlyOurs: a teardown waits for the CNI plugins of a dead
// run by the CNI_NETNS in their environment, which anyone can set. A
// process of another user with it (here nobody's) is neither waited for
// nor killed; one of ours is waited for until it exits.
func TestWaitPluginsOnlyOurs(t *testing.T) {
	requireRoot(t)
	path := fmt.Sprintf("/run/netns/wrtest-plugins-%d", os.Getpid())
	start := func(cred *syscall.Credential, args ...string) *exec.Cmd {
		t.Helper()
		cmd := exec.Command("sleep", args...)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "CNI_NETNS=" + path}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	decoy := start(&syscall.Credential{Uid: 65534, Gid: 65534}, "60")
	defer func() {
		decoy.Process.Kill()
		decoy.Wait()
	}()
	ours := start(nil, "0.5")
	defer ours.Wait()
	var logged []string
	waitPlugins(path, func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) })
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", ours.Process.Pid)); err == nil && !strings.Contains(string(b), ") Z ") {
		t.Errorf("returned while our plugin %d still runs: %s", ours.Process.Pid, b)
	}
	if err := decoy.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("the other user's process was killed: %v", err)
	}
	want := fmt.Sprintf("waiting for CNI plugins [%d] of a dead run", ours.Process.Pid)
	if len(logged) != 1 || !strings.Contains(logged[0], want) {
		t.Errorf("logged %q, want one line with %q", logged, want)
	}
}
