package oci

import specs "github.com/opencontainers/runtime-spec/specs-go"

// normalizeResources returns a copy of r without the zero values that
// clients send for "not set" (nerdctl sends cpu.realtimePeriod = 0, for
// instance). The cgroups library writes every non-nil field, and the
// kernel refuses 0 for these (EINVAL); runc skips them, so do we.
func normalizeResources(r *specs.LinuxResources) *specs.LinuxResources {
	if r == nil {
		return nil
	}
	c := *r
	if r.CPU != nil {
		cpu := *r.CPU
		if cpu.RealtimePeriod != nil && *cpu.RealtimePeriod == 0 {
			cpu.RealtimePeriod = nil
		}
		if cpu.RealtimeRuntime != nil && *cpu.RealtimeRuntime == 0 {
			cpu.RealtimeRuntime = nil
		}
		if cpu.Shares != nil && *cpu.Shares == 0 {
			cpu.Shares = nil
		}
		if cpu.Period != nil && *cpu.Period == 0 {
			cpu.Period = nil
		}
		if cpu.Quota != nil && *cpu.Quota == 0 {
			cpu.Quota = nil
		}
		c.CPU = &cpu
	}
	if r.Memory != nil {
		m := *r.Memory
		for _, p := range []**int64{&m.Limit, &m.Reservation, &m.Swap, &m.Kernel, &m.KernelTCP} { //nolint:staticcheck // kernel memory is deprecated
			if *p != nil && **p == 0 {
				*p = nil
			}
		}
		c.Memory = &m
	}
	if r.Pids != nil && r.Pids.Limit != nil && *r.Pids.Limit == 0 {
		c.Pids = nil
	}
	return &c
}
