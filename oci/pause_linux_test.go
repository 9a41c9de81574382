package oci

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// withSpec rewrites the config.json of bundle b through edit.
func withSpec(t *testing.T, b string, edit func(*specs.Spec)) {
	t.Helper()
	var spec specs.Spec
	raw, err := os.ReadFile(filepath.Join(b, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	edit(&spec)
	raw, _ = json.Marshal(&spec)
	if err := os.WriteFile(filepath.Join(b, "config.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// testCgroup returns a cgroup path for this test, removed at its end.
func testCgroup(t *testing.T, name string) string {
	t.Helper()
	parent := fmt.Sprintf("/wasmrun-test-%d", os.Getpid())
	t.Cleanup(func() { deleteCgroup(parent) })
	return parent + "/" + name
}

// cpuTicks is the CPU time (user + system, in clock ticks) of pid.
func cpuTicks(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime
}

// progresses reports whether pid uses CPU time within 300ms (a spinning
// process takes about 30 ticks): what a frozen one must not do.
func progresses(t *testing.T, pid int) bool {
	t.Helper()
	before := cpuTicks(t, pid)
	time.Sleep(300 * time.Millisecond)
	return cpuTicks(t, pid)-before > 2
}

// runs reports whether pid, a spinning process, gets CPU time again within
// 10s: on a loaded machine (the whole suite on 2 CPUs) it may wait its
// turn for a while, which a thawed process is allowed to.
func runs(t *testing.T, pid int) bool {
	t.Helper()
	before := cpuTicks(t, pid)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cpuTicks(t, pid)-before > 2 {
			return true
		}
	}
	return false
}

// waitLine reads r until a line starting with prefix and returns it.
func waitLine(t *testing.T, r *bufio.Reader, prefix string) string {
	t.Helper()
	for {
		l, err := r.ReadString('\n')
		if strings.HasPrefix(l, prefix) {
			return strings.TrimSpace(l)
		}
		if err != nil {
			t.Fatalf("no line %q: %v", prefix, err)
		}
	}
}

// TestPauseResume freezes a container through its v1 freezer cgroup: a
// spinning guest and a spinning exec process in it stop using CPU, and go
// on after Resume; killed while paused, they die once resumed, and Delete
// leaves no cgroup.
func TestPauseResume(t *testing.T) {
	needRoot(t)
	if cgroups.Mode() == cgroups.Unified {
		t.Skip("cgroup v1 freezer; TestFreezerV2 covers v2")
	}
	rt := testRuntime(t)
	spin := guests.C(t, "spin")
	b := bundle(t, spin, []string{"announce"}, false)
	os.WriteFile(filepath.Join(b, "rootfs", "spin.wasm"), mustRead(t, spin), 0o644)
	cg := testCgroup(t, "pause")
	withSpec(t, b, func(s *specs.Spec) { s.Linux = &specs.Linux{CgroupsPath: cg} })
	r, w, _ := os.Pipe()
	defer r.Close()
	c, err := rt.Create(context.Background(), "pause", b, CreateOpts{Stdout: w})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(context.Background(), "pause"); err != nil {
		t.Fatal(err)
	}
	waitLine(t, bufio.NewReader(r), "spinning")
	p, err := rt.Exec(context.Background(), "pause", "spin2", &specs.Process{Args: []string{"/spin.wasm"}, Cwd: "/"}, ExecOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}

	if err := rt.Pause("pause"); err != nil {
		t.Fatal(err)
	}
	if s := strings.TrimSpace(string(mustRead(t, "/sys/fs/cgroup/freezer"+cg+"/freezer.state"))); s != "FROZEN" {
		t.Errorf("freezer.state %s after Pause, want FROZEN", s)
	}
	for _, pid := range []int{c.Pid, p.Pid} {
		if progresses(t, pid) {
			t.Errorf("process %d uses CPU while paused", pid)
		}
	}
	if err := rt.Resume("pause"); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int{c.Pid, p.Pid} {
		if !runs(t, pid) {
			t.Errorf("process %d does not run after Resume", pid)
		}
	}

	// Killed while paused, they die once thawed.
	if err := rt.Pause("pause"); err != nil {
		t.Fatal(err)
	}
	p.Signal(syscall.SIGKILL)
	rt.Kill("pause", syscall.SIGKILL)
	if err := rt.Resume("pause"); err != nil {
		t.Fatal(err)
	}
	if code := waitCode(t, c); code != 137 {
		t.Errorf("exit status %d, want 137", code)
	}
	if code := waitCode(t, p.c); code != 137 {
		t.Errorf("exec process: exit status %d, want 137", code)
	}
	if err := rt.Delete(context.Background(), "pause", false); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"freezer", "memory", "cpu"} {
		if _, err := os.Stat("/sys/fs/cgroup/" + h + cg); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cgroup %s%s left: %v", h, cg, err)
		}
	}
}

// TestPauseWithoutCgroup: a container whose spec has no cgroup (or a
// systemd-style one) is refused, clearly, as a failed precondition.
func TestPauseWithoutCgroup(t *testing.T) {
	needRoot(t)
	rt := testRuntime(t)
	for name, path := range map[string]string{"none": "", "systemd": "system.slice:wasmrun:x"} {
		t.Run(name, func(t *testing.T) {
			b := bundle(t, guests.C(t, "spin"), nil, false)
			withSpec(t, b, func(s *specs.Spec) { s.Linux = &specs.Linux{CgroupsPath: path} })
			id := "nocg-" + name
			c, err := rt.Create(context.Background(), id, b, CreateOpts{})
			if err != nil {
				t.Fatal(err)
			}
			err = rt.Pause(id)
			if !errors.Is(err, ErrFailedPrecondition) || !strings.Contains(err.Error(), "has no cgroup") {
				t.Errorf("pause: %v, want a failed precondition saying there is no cgroup", err)
			}
			if _, err := rt.Stats(id); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "systemd driver") {
				t.Errorf("stats: %v, want not found naming the systemd form", err)
			}
			rt.Kill(id, syscall.SIGKILL)
			waitCode(t, c)
			if err := rt.Pause(id); !errors.Is(err, ErrFailedPrecondition) {
				t.Errorf("pause of a stopped container: %v", err)
			}
		})
	}
}

// TestFreezerV2 runs the cgroup v2 freezer code (cgroupV2's freeze and
// thaw: cgroup.freeze written, cgroup.events read) for real: on a hybrid
// host the cgroup2 hierarchy at /sys/fs/cgroup/unified has the freezer
// too, without any controller.
func TestFreezerV2(t *testing.T) {
	needRoot(t)
	mount := "/sys/fs/cgroup/unified"
	if cgroups.Mode() == cgroups.Unified {
		mount = unifiedRoot
	}
	if _, err := os.Stat(filepath.Join(mount, "cgroup.procs")); err != nil {
		t.Skipf("no cgroup2 hierarchy at %s", mount)
	}
	group := fmt.Sprintf("/wasmrun-test-freeze-%d", os.Getpid())
	m, err := cgroup2.NewManager(mount, group, &cgroup2.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	cg := cgroupV2{m, filepath.Join(mount, group)}
	spin := exec.Command("sh", "-c", "while :; do :; done")
	if err := spin.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		spin.Process.Kill()
		cg.thaw()
		spin.Wait()
		cg.delete()
	})
	if err := cg.addProc(spin.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := cg.freeze(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := (freezerV2{cg.dir}).frozen(); err != nil || !frozen {
		t.Fatalf("cgroup.events after freeze: frozen %v, %v", frozen, err)
	}
	if progresses(t, spin.Process.Pid) {
		t.Error("the process uses CPU while frozen")
	}
	if err := cg.thaw(); err != nil {
		t.Fatal(err)
	}
	if !runs(t, spin.Process.Pid) {
		t.Error("the process does not run after thaw")
	}
}

// fakeFreezer never freezes (a process stuck in the kernel).
type fakeFreezer struct{ requests []bool }

func (f *fakeFreezer) request(frozen bool) error {
	f.requests = append(f.requests, frozen)
	return nil
}
func (f *fakeFreezer) frozen() (bool, error) { return false, nil }

// TestFreezeTimeout: a freeze that does not complete fails after
// freezeTimeout and thaws the cgroup again.
func TestFreezeTimeout(t *testing.T) {
	defer func(d time.Duration) { freezeTimeout = d }(freezeTimeout)
	freezeTimeout = 50 * time.Millisecond
	f := &fakeFreezer{}
	err := setFrozen(f, true)
	if err == nil || !strings.Contains(err.Error(), "did not all stop") {
		t.Fatalf("setFrozen: %v", err)
	}
	if len(f.requests) < 2 || !f.requests[0] || f.requests[len(f.requests)-1] {
		t.Errorf("requests %v: want freeze asked again, then a thaw", f.requests)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDeletePaused: Delete with force ends a paused container (a frozen
// process dies only once thawed) and removes it.
func TestDeletePaused(t *testing.T) {
	needRoot(t)
	if cgroups.Mode() == cgroups.Unified {
		t.Skip("cgroup v1 freezer")
	}
	rt := testRuntime(t)
	b := bundle(t, guests.C(t, "spin"), nil, false)
	cg := testCgroup(t, "delpaused")
	withSpec(t, b, func(s *specs.Spec) { s.Linux = &specs.Linux{CgroupsPath: cg} })
	c, err := rt.Create(context.Background(), "delpaused", b, CreateOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(context.Background(), "delpaused"); err != nil {
		t.Fatal(err)
	}
	if err := rt.Pause("delpaused"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := rt.Delete(ctx, "delpaused", true); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("Delete of a paused container waited until its deadline")
	}
	waitCode(t, c)
	if _, err := rt.State("delpaused"); !errors.Is(err, ErrNotFound) {
		t.Errorf("state after delete: %v", err)
	}
}
