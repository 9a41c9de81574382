package wasi

import (
	"context"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// Preview1 clock ids.
const (
	clockRealtime         = 0
	clockMonotonic        = 1
	clockProcessCPUTimeID = 2
	clockThreadCPUTimeID  = 3
)

func init() {
	register(
		newFunc("clock_res_get", clockResGet, "id", "result.resolution"),
		newFuncTyped("clock_time_get", clockTimeGet, "id", "precision:i64", "result.timestamp"),
	)
}

// hostClock maps a preview1 clock id to the Linux clock. Monotonic time is
// the host's CLOCK_MONOTONIC, so absolute poll_oneoff deadlines can be handed
// to the kernel unchanged.
func hostClock(id uint32) (int32, sys.Errno) {
	switch id {
	case clockRealtime:
		return sys.ClockRealtime, sys.ESUCCESS
	case clockMonotonic:
		return sys.ClockMonotonic, sys.ESUCCESS
	case clockProcessCPUTimeID:
		return sys.ClockProcessCPU, sys.ESUCCESS
	case clockThreadCPUTimeID:
		return sys.ClockThreadCPU, sys.ESUCCESS
	}
	return 0, sys.EINVAL
}

// clockResGet writes the resolution of clock id in nanoseconds.
// Errors: EINVAL for an unknown clock, EFAULT for a bad pointer.
// POSIX: clock_getres.
func clockResGet(_ context.Context, _ *Host, mod api.Module, p []uint64) sys.Errno {
	c, errno := hostClock(uint32(p[0]))
	if errno != 0 {
		return errno
	}
	res, errno := sys.ClockRes(c)
	if errno != 0 {
		return errno
	}
	return writeU64(mod.Memory(), uint32(p[1]), uint64(res))
}

// clockTimeGet writes the time of clock id in nanoseconds. The precision
// hint is ignored: the host clock is always read at full precision.
// Errors: EINVAL for an unknown clock, EFAULT for a bad pointer.
// POSIX: clock_gettime.
func clockTimeGet(_ context.Context, _ *Host, mod api.Module, p []uint64) sys.Errno {
	c, errno := hostClock(uint32(p[0]))
	if errno != 0 {
		return errno
	}
	t, errno := clockNow(c)
	if errno != 0 {
		return errno
	}
	return writeU64(mod.Memory(), uint32(p[2]), t)
}

func clockNow(c int32) (uint64, sys.Errno) {
	t, errno := sys.Now(c)
	return uint64(t), errno
}
