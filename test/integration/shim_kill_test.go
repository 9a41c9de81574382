package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/internal/testdaemon"
)

// TestShimKillInCreate: a task whose module loops forever in its start
// function is being created forever (ctr run -d never returns). ctr task
// kill stops it all the same, with SIGKILL, SIGTERM or SIGINT: the kill
// succeeds, the create fails at once with the signal's status (137, 143,
// 130), and nothing is left: no container process, shim, namespace,
// cgroup, mount or bundle; the task is not found and the container can be
// removed. The same when the create's caller gives up (ctr interrupted):
// containerd then deletes the task being created.
func TestShimKillInCreate(t *testing.T) {
	needRootShim(t)
	module := filepath.Join(t.TempDir(), "endless.wasm")
	writeFile(t, module, string(endlessStart))
	rootfs := rootfsWith(t, module)
	for _, v := range shimDaemons {
		t.Run(v.name, func(t *testing.T) {
			d := startShimDaemon(t, v.bin(t))
			for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM, syscall.SIGINT} {
				name := unix.SignalName(sig)
				t.Run(name, func(t *testing.T) {
					id := newID("killcreate")
					c := startStuckCreate(t, d, id, "--rootfs", rootfs, id, "/app.wasm")
					d.MustCtr(t, "task", "kill", "-s", name, id)
					c.wantFailed(t, fmt.Sprintf("killed with %s while being created (exit status %d)", name, 128+int(sig)))
					c.wantGone(t)
				})
			}
			t.Run("image", func(t *testing.T) {
				// The rootfs arrives as mounts: they go too.
				ref := "docker.io/wasmrun/endless-start:test"
				d.MustCtr(t, "images", "import", ociImage(t, ref, module, nil, nil))
				id := newID("killcreate")
				c := startStuckCreate(t, d, id, ref, id)
				if !c.mounted() {
					t.Fatal("the image's rootfs is not mounted while the task is being created")
				}
				d.MustCtr(t, "task", "kill", "-s", "SIGKILL", id)
				c.wantFailed(t, "killed with SIGKILL while being created (exit status 137)")
				c.wantGone(t)
			})
			t.Run("ctr_interrupted", func(t *testing.T) {
				id := newID("killcreate")
				c := startStuckCreate(t, d, id, "--rootfs", rootfs, id, "/app.wasm")
				c.ctr.Process.Signal(syscall.SIGINT)
				c.wantFailed(t, "")
				c.wantGone(t)
			})
		})
	}
}

// stuckCreate is a `ctr run -d` whose task is being created, in its
// endless start function.
type stuckCreate struct {
	d       *testdaemon.Daemon
	id      string
	ctr     *exec.Cmd
	stderr  *bytes.Buffer
	exited  chan error
	pid     int    // the container process
	shim    int    // its shim
	bundle  string // the task's bundle
	cgroups []string
}

// startStuckCreate starts `ctr run -d --runtime wasmrun ARGS` of task id
// and waits until the container process has spent 200 ms of CPU time in
// the start function, with ctr still waiting for the create.
func startStuckCreate(t *testing.T, d *testdaemon.Daemon, id string, args ...string) *stuckCreate {
	t.Helper()
	c := &stuckCreate{d: d, id: id, stderr: &bytes.Buffer{}, exited: make(chan error, 1)}
	c.ctr = d.CtrCommand(context.Background(), append([]string{"run", "-d", "--runtime", shimRuntime}, args...)...)
	c.ctr.Stderr = c.stderr
	if err := c.ctr.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.exited <- c.ctr.Wait() }()
	t.Cleanup(func() {
		c.ctr.Process.Kill()
		removeTask(t, d, id)
	})
	if !waitUntil(30*time.Second, 20*time.Millisecond, func() bool {
		c.pid = spinningChild(d.Processes(), 200*time.Millisecond)
		return c.pid != 0
	}) {
		t.Fatalf("no container process spinning in its start function after 30s\nctr stderr: %s\ndaemon log:\n%s", c.stderr, d.TailLog())
	}
	select {
	case err := <-c.exited:
		t.Fatalf("ctr run -d returned while the start function runs: %v\n%s", err, c.stderr)
	default:
	}
	c.shim = ppid(t, c.pid)
	var err error
	if c.bundle, err = os.Readlink(fmt.Sprintf("/proc/%d/cwd", c.shim)); err != nil {
		t.Fatal(err)
	}
	var spec specs.Spec
	b, err := os.ReadFile(filepath.Join(c.bundle, "config.json"))
	if err == nil {
		err = json.Unmarshal(b, &spec)
	}
	if err != nil || spec.Linux == nil || spec.Linux.CgroupsPath == "" {
		t.Fatalf("the bundle's spec names no cgroup: %v", err)
	}
	if c.cgroups, _ = filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", spec.Linux.CgroupsPath)); len(c.cgroups) == 0 {
		t.Fatalf("no cgroup %s while the task is being created", spec.Linux.CgroupsPath)
	}
	if _, err := os.Stat(netnsPath(id)); err != nil {
		t.Fatalf("no namespace while the task is being created: %v", err)
	}
	return c
}

// spinningChild returns a child of one of parents that has used at least
// cpu of CPU time, or 0.
func spinningChild(parents []int, cpu time.Duration) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 12 || f[0] == "Z" {
			continue
		}
		parent, _ := strconv.Atoi(f[1])
		ticks, _ := strconv.Atoi(f[11]) // utime
		for _, p := range parents {
			if parent == p && time.Duration(ticks)*10*time.Millisecond >= cpu {
				return pid
			}
		}
	}
	return 0
}

// mounted reports whether anything of the task is mounted.
func (c *stuckCreate) mounted() bool {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	return strings.Contains(string(b), c.bundle)
}

// wantFailed waits up to 10s for ctr run -d to fail, with want in its
// error ("" for any).
func (c *stuckCreate) wantFailed(t *testing.T, want string) {
	t.Helper()
	select {
	case err := <-c.exited:
		if err == nil {
			t.Fatalf("ctr run -d succeeded\n%s", c.stderr)
		}
		if want == "" {
			return
		}
		t.Logf("ctr run -d: %s", lastLine(c.stderr.String()))
		if !strings.Contains(c.stderr.String(), want) {
			t.Errorf("ctr run -d: %v, stderr lacks %q:\n%s", err, want, c.stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("ctr run -d still waits 10s after the kill\ndaemon log:\n%s", c.d.TailLog())
	}
}

// wantGone checks that the task left nothing: its processes end, it is
// not found, the container can be removed, and its namespace, cgroups,
// mounts and bundle are gone.
func (c *stuckCreate) wantGone(t *testing.T) {
	t.Helper()
	waitPidGone(t, c.pid)
	waitPidGone(t, c.shim)
	// containerd finishes its cleanup after the shim has gone.
	waitTask(t, c.d, c.id, "gone", func(_ taskInfo, ok bool) bool { return !ok })
	if !waitUntil(30*time.Second, 20*time.Millisecond, func() bool {
		_, err := os.Stat(c.bundle)
		return os.IsNotExist(err)
	}) {
		t.Errorf("bundle %s left", c.bundle)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, stderr, err := c.d.Ctr(ctx, "task", "delete", c.id); err != nil && !strings.Contains(stderr, "not found") {
		t.Errorf("task delete: %v", err)
	}
	c.d.MustCtr(t, "container", "rm", c.id)
	if _, err := os.Stat(netnsPath(c.id)); !os.IsNotExist(err) {
		t.Errorf("namespace %s left (%v)", netnsPath(c.id), err)
	}
	for _, cg := range c.cgroups {
		if _, err := os.Stat(cg); !os.IsNotExist(err) {
			t.Errorf("cgroup %s left (%v)", cg, err)
		}
	}
	if c.mounted() {
		t.Errorf("mounts of %s left", c.bundle)
	}
	if left := c.d.Processes(); len(left) > 0 {
		t.Errorf("shim processes left: %v", left)
	}
}

func lastLine(s string) string {
	l := lines(s)
	if len(l) == 0 {
		return ""
	}
	return l[len(l)-1]
}
