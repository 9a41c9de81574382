package oci

import (
	"testing"

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
