package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/guests"
	"github.com/wasmrun/wasmrun/internal/testdaemon"
)

// v1Metrics is the part of `ctr task metrics --format json` (cgroup v1
// metrics) the tests read.
type v1Metrics struct {
	Pids struct {
		Current uint64 `json:"current"`
	} `json:"pids"`
	CPU struct {
		Usage struct {
			Total uint64 `json:"total"`
		} `json:"usage"`
	} `json:"cpu"`
	Memory struct {
		Usage struct {
			Usage uint64 `json:"usage"`
		} `json:"usage"`
	} `json:"memory"`
}

// taskMetrics returns `ctr task metrics --format json` of task id.
func taskMetrics(t *testing.T, d *testdaemon.Daemon, id string) v1Metrics {
	t.Helper()
	out := d.MustCtr(t, "task", "metrics", "--format", "json", id)
	var m v1Metrics
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("ctr task metrics --format json: %v\n%s", err, out)
	}
	return m
}

// TestShimMetrics: `ctr task metrics` of wasm tasks under each containerd
// release shows the CPU time and memory their guests use (a spinning
// guest's CPU time grows; a Go HTTP server's memory, charged from before
// it compiles its module, is megabytes) and pids, in the table and as
// JSON. A cgroup path in the systemd driver's form is not honoured: the
// daemon's log (the shim's) says so, clearly, and the task still runs,
// without metrics.
func TestShimMetrics(t *testing.T) {
	needRootShim(t)
	spin := rootfsWith(t, guests.C(t, "spin"))
	httpd := rootfsWith(t, guests.Go(t, "sockhttp"))
	for _, v := range shimDaemons {
		t.Run(v.name, func(t *testing.T) {
			d := startShimDaemon(t, v.bin(t))
			t.Run("cpu", func(t *testing.T) {
				id := newID("metrics")
				pid := startDetached(t, d, spin, id, nil)
				var first v1Metrics
				if !waitUntil(30*time.Second, 50*time.Millisecond, func() bool {
					first = taskMetrics(t, d, id)
					return first.CPU.Usage.Total > 100e6 // 100 ms
				}) {
					t.Fatalf("the spinning guest's CPU time stays at %d ns", first.CPU.Usage.Total)
				}
				if first.Memory.Usage.Usage == 0 || first.Pids.Current == 0 {
					t.Errorf("metrics without memory or pids: %+v", first)
				}
				if !waitUntil(30*time.Second, 50*time.Millisecond, func() bool {
					return taskMetrics(t, d, id).CPU.Usage.Total > first.CPU.Usage.Total+100e6
				}) {
					t.Errorf("the spinning guest's CPU time does not grow past %d ns", first.CPU.Usage.Total)
				}
				table := d.MustCtr(t, "task", "metrics", id)
				for _, row := range []string{"memory.usage_in_bytes", "cpuacct.usage"} {
					if v := metricRow(table, row); v <= 0 {
						t.Errorf("ctr task metrics: %s is %d:\n%s", row, v, table)
					}
				}
				killTask(t, d, id, pid)
			})
			t.Run("memory", func(t *testing.T) {
				id := newID("metricsmem")
				pid := startHTTPTask(t, d, httpd, id, nil)
				for i := range 20 {
					getIn(t, fmt.Sprintf("/proc/%d/ns/net", pid), fmt.Sprintf("/%d", i))
				}
				if m := taskMetrics(t, d, id); m.Memory.Usage.Usage < 4<<20 || m.CPU.Usage.Total == 0 {
					t.Errorf("a Go HTTP server after 20 requests: memory %d bytes, CPU %d ns; want megabytes and some CPU", m.Memory.Usage.Usage, m.CPU.Usage.Total)
				}
				killTask(t, d, id, pid)
			})
			t.Run("systemd_cgroup_path", func(t *testing.T) { testShimSystemdCgroup(t, d, spin) })
		})
	}
}

// testShimSystemdCgroup: a cgroup path of the slice:prefix:name form is
// named, with what it costs, in a warning of the shim's log; the task runs
// (with no cgroup) and has no metrics.
func testShimSystemdCgroup(t *testing.T, d *testdaemon.Daemon, rootfs string) {
	id := newID("sdcg")
	path := "system.slice:wasmrun:" + id
	pid := startDetached(t, d, rootfs, id, []string{"--cgroup", path})
	var log string
	if !waitUntil(10*time.Second, 50*time.Millisecond, func() bool {
		b, _ := os.ReadFile(d.Log)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "level=warning") && strings.Contains(l, path) && strings.Contains(l, "cannot be honoured") {
				log = l
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no warning about the cgroup path %s in the daemon's log:\n%s", path, d.TailLog())
	}
	for _, want := range []string{"systemd driver", "no metrics", "no pause", "cgroupfs"} {
		if !strings.Contains(log, want) {
			t.Errorf("the warning does not say %q: %s", want, log)
		}
	}
	if procState(pid) == "" {
		t.Fatal("the task does not run")
	}
	if _, _, err := d.Ctr(t.Context(), "task", "metrics", id); err == nil {
		t.Error("metrics of a task without a cgroup")
	}
	for _, pattern := range []string{"/sys/fs/cgroup/*/*" + id + "*", "/sys/fs/cgroup/*/*/*" + id + "*"} {
		if cgs, _ := filepath.Glob(pattern); len(cgs) > 0 {
			t.Errorf("a cgroup was made for the systemd path: %v", cgs)
		}
	}
	killTask(t, d, id, pid)
}

// metricRow is the value of row in `ctr task metrics` table output (-1:
// none).
func metricRow(table, row string) int64 {
	for _, l := range lines(table) {
		if f := strings.Fields(l); len(f) == 2 && f[0] == row {
			v, err := strconv.ParseInt(f[1], 10, 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// criStats is the part of `crictl stats -o json` the test reads.
type criStats struct {
	Stats []struct {
		Attributes struct {
			ID string `json:"id"`
		} `json:"attributes"`
		CPU struct {
			UsageCoreNanoSeconds struct {
				Value string `json:"value"`
			} `json:"usageCoreNanoSeconds"`
		} `json:"cpu"`
		Memory struct {
			WorkingSetBytes struct {
				Value string `json:"value"`
			} `json:"workingSetBytes"`
		} `json:"memory"`
	} `json:"stats"`
}

// TestShimMetricsCRI: `crictl stats` of a wasm container in a pod, under
// each containerd release, shows its CPU time growing while its guest
// spins, and its memory.
func TestShimMetricsCRI(t *testing.T) {
	needRootShim(t)
	spin, err := os.ReadFile(guests.C(t, "spin"))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range shimDaemons {
		t.Run(v.name, func(t *testing.T) {
			e := startCRI(t, v.bin(t), 242+i)
			ref := "docker.io/wasmrun/spin:test"
			e.d.ImportImage(t, testdaemon.CRINamespace, ref, []testdaemon.ImageFile{{Name: "app.wasm", Mode: 0o755, Data: spin}}, []string{"/app.wasm"}, nil, nil)
			p := e.runPod(t, "stats")
			c := e.container(t, p, "spin", 0, ref, []string{"announce"}, nil)
			e.waitLog(t, c, "spinning\n")
			stats := func() (cpu, mem int64) {
				out := e.crictl(t, "stats", "-o", "json", "--id", c)
				var st criStats
				if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Stats) != 1 || st.Stats[0].Attributes.ID != c {
					t.Fatalf("crictl stats --id %s: %v\n%s", c, err, out)
				}
				cpu, _ = strconv.ParseInt(st.Stats[0].CPU.UsageCoreNanoSeconds.Value, 10, 64)
				mem, _ = strconv.ParseInt(st.Stats[0].Memory.WorkingSetBytes.Value, 10, 64)
				return cpu, mem
			}
			var cpu, mem int64
			if !waitUntil(30*time.Second, 100*time.Millisecond, func() bool {
				cpu, mem = stats()
				return cpu > 100e6 && mem > 0
			}) {
				t.Fatalf("crictl stats: CPU %d ns, memory %d bytes; want the spinning guest's", cpu, mem)
			}
			if !waitUntil(30*time.Second, 100*time.Millisecond, func() bool {
				later, _ := stats()
				return later > cpu+100e6
			}) {
				t.Errorf("crictl stats: the CPU time does not grow past %d ns", cpu)
			}
			if table := e.crictl(t, "stats", "--id", c); !strings.Contains(table, c[:13]) {
				t.Errorf("crictl stats table lacks the container:\n%s", table)
			}
			e.crictl(t, "stopp", p.id)
			e.crictl(t, "rmp", p.id)
			e.checkNoLeaks(t, p.id, c)
		})
	}
}
