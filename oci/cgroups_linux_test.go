package oci

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/containerd/cgroups/v3"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// TestCgroupBeforeCompile: the container process is in its cgroup before
// it compiles and instantiates the module, so that memory is charged to
// the container: the cgroup's peak usage covers most of the process's
// peak resident memory (a late move would leave it charged elsewhere).
// Delete removes the cgroup. cgroup v1 here; v2 takes the same path
// through the cgroups library.
func TestCgroupBeforeCompile(t *testing.T) {
	needRoot(t)
	if cgroups.Mode() == cgroups.Unified {
		t.Skip("reads v1 files; this machine has cgroup v1, where it runs")
	}
	rt := testRuntime(t)
	b := bundle(t, guests.Go(t, "netapp"), []string{"serve", ":3000"}, false)
	var spec specs.Spec
	raw, _ := os.ReadFile(filepath.Join(b, "config.json"))
	json.Unmarshal(raw, &spec)
	path := fmt.Sprintf("/wasmrun-test/cg%d", os.Getpid())
	limit := int64(1 << 30)
	spec.Linux = &specs.Linux{CgroupsPath: path, Resources: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}}
	raw, _ = json.Marshal(&spec)
	os.WriteFile(filepath.Join(b, "config.json"), raw, 0o644)
	t.Cleanup(func() { deleteCgroup("/wasmrun-test") })

	c, err := rt.Create(context.Background(), "cg", b, CreateOpts{}) // no cache: it compiles
	if err != nil {
		t.Fatal(err)
	}
	mem := "/sys/fs/cgroup/memory" + path
	peak := readInt(t, mem+"/memory.max_usage_in_bytes")
	hwm := vmHWM(t, c.Pid)
	if peak < hwm/2 {
		t.Errorf("the cgroup's peak is %d bytes, the process's peak resident memory %d: compile and instantiate were charged elsewhere", peak, hwm)
	}
	if _, err := rt.Stats("cg"); err != nil {
		t.Errorf("stats: %v", err)
	}
	if err := rt.Delete(context.Background(), "cg", true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(mem); !os.IsNotExist(err) {
		t.Errorf("%s left after Delete (%v)", mem, err)
	}
}

func readInt(t *testing.T, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// vmHWM is the peak resident memory of pid in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}
