package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/wasmrun/wasmrun/internal/size"
	"github.com/wasmrun/wasmrun/oci"
)

// limits are what an app may use, with Docker's names and units:
// --memory 256m, --cpus 0.5, --max-fds 1024, or [limits] memory, cpus and
// max_fds in .wasmrun.toml (the flags win).
//
//   - memory caps the guest's linear memory (a memory.grow past it fails,
//     as wasm says) and, under `wasmrun os` as root, the container process
//     through its memory cgroup, at memory plus oci.RuntimeMemory for the
//     runtime itself (compiled code, its own heap), so that the guest meets
//     the wasm limit, not the kernel's OOM killer;
//   - cpus is a CFS quota on the app's cgroup (under `run`, the cgroup of
//     the wasmrun process itself for the run, /wasmrun/run-<pid>);
//   - max_fds is the process's RLIMIT_NOFILE: the guest's descriptors
//     and the handful the process itself holds;
//   - tmp (`wasmrun os`, --tmp) caps the app's private /tmp, as root a
//     tmpfs of that size (defaultTmp when unset), so that a guest cannot
//     fill the host's disk through it. Its pages are memory, charged to
//     the app's memory cgroup like the rest.
type limits struct {
	Memory string  `toml:"memory"`
	CPUs   float64 `toml:"cpus"`
	MaxFDs uint64  `toml:"max_fds"`
	Tmp    string  `toml:"tmp"`

	memory int64 // Memory in bytes, 0 for none
	tmp    int64 // Tmp in bytes, 0 for the default
}

// defaultTmp is the size of an app's /tmp when no limit names one.
const defaultTmp = 256 << 20

// cpuPeriod is the CFS period a --cpus quota is a share of (Docker's).
const cpuPeriod = 100000

// parseSize reads a Docker size (package size), at least one wasm page.
func parseSize(s string) (int64, error) {
	n, err := size.Parse(s)
	if err != nil {
		return 0, err
	}
	if n < 65536 {
		return 0, fmt.Errorf("%q: less than one wasm page (64k)", s)
	}
	return n, nil
}

// check validates l and fills in memory.
func (l *limits) check() error {
	if l.Memory != "" {
		m, err := parseSize(l.Memory)
		if err != nil {
			return fmt.Errorf("memory %v", err)
		}
		l.memory = m
	}
	if l.CPUs < 0 || math.IsNaN(l.CPUs) || math.IsInf(l.CPUs, 0) || (l.CPUs > 0 && l.CPUs*cpuPeriod < 1000) {
		return fmt.Errorf("cpus %v: want a positive number of CPUs, at least 0.01", l.CPUs)
	}
	if l.MaxFDs != 0 && l.MaxFDs < 16 {
		return errors.New("max_fds: at least 16 (the process needs a few of its own)")
	}
	if l.Tmp != "" {
		t, err := parseSize(l.Tmp)
		if err != nil {
			return fmt.Errorf("tmp %v", err)
		}
		l.tmp = t
	}
	return nil
}

// merge returns l with the flags' values over it.
func (l limits) merge(flags limits) limits {
	if flags.Memory != "" {
		l.Memory, l.memory = flags.Memory, flags.memory
	}
	if flags.CPUs != 0 {
		l.CPUs = flags.CPUs
	}
	if flags.MaxFDs != 0 {
		l.MaxFDs = flags.MaxFDs
	}
	if flags.Tmp != "" {
		l.Tmp, l.tmp = flags.Tmp, flags.tmp
	}
	return l
}

// limitFlag sets the limit a flag names (memory, cpus, max-fds, tmp).
func (l *limits) flag(name, value string) error {
	switch name {
	case "memory", "m":
		l.Memory = value
	case "tmp":
		l.Tmp = value
	case "cpus":
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return fmt.Errorf("--cpus %q: want a number such as 0.5", value)
		}
		l.CPUs = v
	case "max-fds":
		v, err := strconv.ParseUint(value, 10, 64)
		if err != nil {
			return fmt.Errorf("--max-fds %q: want a number of descriptors", value)
		}
		l.MaxFDs = v
	}
	if err := l.check(); err != nil {
		return fmt.Errorf("--%s: %v", name, err)
	}
	return nil
}

// apply puts l into spec s: the memory and CPU limits on a cgroup of its
// own at cgroupPath, the fd limit as RLIMIT_NOFILE.
func (l limits) apply(s *specs.Spec, cgroupPath string) {
	if l.MaxFDs > 0 {
		s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Hard: l.MaxFDs, Soft: l.MaxFDs})
	}
	if l.memory == 0 && l.CPUs == 0 {
		return
	}
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	res := &specs.LinuxResources{}
	if l.memory > 0 {
		m := l.cgroupMemory()
		res.Memory = &specs.LinuxMemory{Limit: &m}
	}
	if l.CPUs > 0 {
		quota, period := int64(l.CPUs*cpuPeriod), uint64(cpuPeriod)
		res.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
	}
	s.Linux.Resources = res
	s.Linux.CgroupsPath = cgroupPath
}

// enterable refuses limits this process cannot enter (--cpus without
// root), before anything is done.
func (l limits) enterable() error {
	if l.CPUs > 0 && (os.Geteuid() != 0 || !haveCgroups) {
		return errors.New("--cpus needs root (a cgroup)")
	}
	return nil
}

// enter puts this process (`wasmrun run`) in a cgroup of its own for the
// CPU and memory limits, and returns how to leave it. Without root there
// is none: --cpus is refused, --memory caps the guest's memory only.
func (l limits) enter() (leave func() error, err error) {
	none := func() error { return nil }
	if l.CPUs == 0 && l.memory == 0 {
		return none, nil
	}
	if err := l.enterable(); err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 || !haveCgroups {
		return none, nil
	}
	s := &specs.Spec{Process: &specs.Process{}}
	path := fmt.Sprintf("/wasmrun/run-%d", os.Getpid())
	l.apply(s, path)
	return enterCgroup(path, s.Linux.Resources)
}

// memoryWhy says what bounds the app's memory cgroup, for the message of
// an app the OOM killer ended.
func (l limits) memoryWhy() string {
	if l.memory == 0 {
		return "no --memory: the machine's memory ran out"
	}
	return fmt.Sprintf("%d MiB: --memory %s plus %d MiB for the runtime; what it writes to /tmp counts too",
		l.cgroupMemory()>>20, l.Memory, oci.RuntimeMemory>>20)
}

// cgroupMemory is the memory cgroup's limit for --memory: the guest's and
// the runtime's share.
func (l limits) cgroupMemory() int64 { return l.memory + oci.RuntimeMemory }

// guestMemory is the cap of the guest's linear memory (0: none).
func (l limits) guestMemory() int64 { return l.memory }

// tmpSize is the size of the app's /tmp.
func (l limits) tmpSize() int64 {
	if l.tmp > 0 {
		return l.tmp
	}
	return defaultTmp
}
