package main

import (
	"fmt"
	"math"
	"os"
	"path"
	"strconv"
	"strings"
)

// Instances: `wasmrun os --instances N` (instances = N in .wasmrun.toml)
// runs N instances of the module in the app's one container process,
// sharing its compiled code; each has its own memory, all listen on the
// app's ports (the host sets SO_REUSEPORT), and the kernel spreads the
// connections, forwarded ones too, over them. "auto" is the number of CPUs
// the app may use. initproc's instances_linux.go supervises them.

// maxInstances caps the count: a guest is one thread, so instances past
// the CPUs only help an app that waits on something else than sockets;
// each costs its own memory (the Go HTTP guest about a dozen MB, see
// bench/instances.md) and the host a share of the address space for its
// memory reservation. The cap is the same on every machine, so that an
// app's configuration runs everywhere.
const maxInstances = 256

// instanceCount is a parsed --instances or instances value.
type instanceCount struct {
	n    int  // 0: not set
	auto bool // "auto"
}

// parseInstances parses a count from 1 to maxInstances, or "auto".
func parseInstances(v string) (instanceCount, error) {
	if v == "auto" {
		return instanceCount{auto: true}, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxInstances {
		return instanceCount{}, fmt.Errorf("%q: want a number of instances from 1 to %d, or auto", v, maxInstances)
	}
	return instanceCount{n: n}, nil
}

// UnmarshalTOML reads instances = N or instances = "auto".
func (c *instanceCount) UnmarshalTOML(v any) (err error) {
	switch v := v.(type) {
	case int64:
		if v < 1 || v > maxInstances {
			return fmt.Errorf("instances = %d: want a number of instances from 1 to %d, or \"auto\"", v, maxInstances)
		}
		*c = instanceCount{n: int(v)}
		return nil
	case string:
		if v != "auto" {
			return fmt.Errorf("instances = %q: want a number of instances from 1 to %d, or \"auto\"", v, maxInstances)
		}
		*c = instanceCount{auto: true}
		return nil
	}
	return fmt.Errorf("instances = %v: want a number of instances from 1 to %d, or \"auto\"", v, maxInstances)
}

// count is the number of instances to run, with what decided it for
// --verbose; cpus is the app's --cpus (0: none).
func (c instanceCount) count(cpus float64) (int, string) {
	if !c.auto {
		return max(c.n, 1), ""
	}
	n, why := availableCPUs(cpus)
	return min(n, maxInstances), why
}

// availableCPUs is the number of CPUs the app may use: those wasmrun may
// run on (sched_getaffinity), fewer when the app's cpus limit or the CPU
// quota of wasmrun's own cgroup (or a parent's) is lower. At least 1.
func availableCPUs(cpus float64) (int, string) {
	n, why := 1, "1 CPU"
	if c := hostCPUs(); c > 0 {
		n, why = c, fmt.Sprintf("%d CPUs to run on", c)
	}
	if q, where := cgroupQuota(); q > 0 && q < n {
		n, why = q, fmt.Sprintf("the CPU quota of cgroup %s", where)
	}
	if cpus > 0 && int(math.Ceil(cpus)) < n {
		n, why = int(math.Ceil(cpus)), fmt.Sprintf("--cpus %v", cpus)
	}
	return max(n, 1), why
}

// cgroupQuota is the lowest CPU quota (cpu.max, rounded up to whole CPUs)
// of wasmrun's cgroup v2 and its parents, and which cgroup has it; 0 when
// none has one.
func cgroupQuota() (int, string) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0, ""
	}
	var cg string
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			cg = p
		}
	}
	if cg == "" {
		return 0, ""
	}
	best, where := 0, ""
	for dir := path.Clean(cg); ; dir = path.Dir(dir) {
		if q := quotaCPUs("/sys/fs/cgroup" + dir + "/cpu.max"); q > 0 && (best == 0 || q < best) {
			best, where = q, dir
		}
		if dir == "/" {
			return best, where
		}
	}
}

// quotaCPUs reads a cpu.max ("QUOTA PERIOD" or "max PERIOD") as whole
// CPUs, rounded up; 0 for none.
func quotaCPUs(file string) int {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	quota, err1 := strconv.ParseFloat(f[0], 64)
	period, err2 := strconv.ParseFloat(f[1], 64)
	if err1 != nil || err2 != nil || quota <= 0 || period <= 0 {
		return 0
	}
	return int(math.Ceil(quota / period))
}
