package oci

import (
	"testing"

	"github.com/containerd/cgroups/v3/cgroup2"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestNormalizeResources(t *testing.T) {
	zero, zeroI, shares, limit := uint64(0), int64(0), uint64(512), int64(64<<20)
	r := &specs.LinuxResources{
		CPU:    &specs.LinuxCPU{RealtimePeriod: &zero, RealtimeRuntime: &zeroI, Period: &zero, Quota: &zeroI, Shares: &shares},
		Memory: &specs.LinuxMemory{Limit: &limit, Swap: &zeroI},
	}
	n := normalizeResources(r)
	if c := n.CPU; c.RealtimePeriod != nil || c.RealtimeRuntime != nil || c.Period != nil || c.Quota != nil || c.Shares == nil || *c.Shares != 512 {
		t.Errorf("cpu %+v: want only shares=512", *c)
	}
	if m := n.Memory; m.Swap != nil || m.Limit == nil || *m.Limit != limit {
		t.Errorf("memory %+v: want only the limit", *m)
	}
	if r.CPU.RealtimePeriod == nil || r.Memory.Swap == nil {
		t.Error("the input was changed")
	}
	if normalizeResources(nil) != nil {
		t.Error("nil resources")
	}
}

// TestResourcesV2: on a unified (cgroup2) host the same resources become
// memory.max and cpu.max through the cgroups library. This machine has
// cgroup v1, where TestCgroupBeforeCompile and the CLI and shim tests run
// for real; this keeps the v2 translation of what wasmrun sends honest.
func TestResourcesV2(t *testing.T) {
	limit, quota, period, zero := int64(96<<20), int64(50000), uint64(100000), uint64(0)
	r := cgroup2.ToResources(normalizeResources(&specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: &limit},
		CPU:    &specs.LinuxCPU{Quota: &quota, Period: &period, RealtimePeriod: &zero},
	}))
	if r.Memory == nil || r.Memory.Max == nil || *r.Memory.Max != limit {
		t.Errorf("memory.max: %+v", r.Memory)
	}
	if r.CPU == nil || r.CPU.Max == "" || string(r.CPU.Max) != "50000 100000" {
		t.Errorf("cpu.max: %+v", r.CPU)
	}
}
