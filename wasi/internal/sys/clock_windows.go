package sys

import (
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Host clocks: Windows has no clock ids, so these are the system layer's
// own numbers, for Now, ClockRes and Timer.
const (
	ClockRealtime int32 = iota
	ClockMonotonic
	ClockProcessCPU
	ClockThreadCPU
)

// nanotime is the Go runtime's monotonic clock (QueryPerformanceCounter
// based on Windows).
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// Now reads a host clock in nanoseconds. The CPU-time clocks are the
// user and kernel times Windows keeps for the process and the thread (in
// 100 ns units).
func Now(clock int32) (int64, Errno) {
	switch clock {
	case ClockMonotonic:
		return nanotime(), ESUCCESS
	case ClockRealtime:
		return time.Now().UnixNano(), ESUCCESS
	case ClockProcessCPU, ClockThreadCPU:
		var c, e, k, u windows.Filetime
		var err error
		if clock == ClockProcessCPU {
			err = windows.GetProcessTimes(windows.CurrentProcess(), &c, &e, &k, &u)
		} else {
			err = getThreadTimes(windows.CurrentThread(), &c, &e, &k, &u)
		}
		if err != nil {
			return 0, ErrnoFromError(err)
		}
		return (filetimeTicks(k) + filetimeTicks(u)) * 100, ESUCCESS
	}
	return 0, EINVAL
}

// filetimeTicks is a FILETIME duration in 100 ns ticks.
func filetimeTicks(t windows.Filetime) int64 {
	return int64(t.HighDateTime)<<32 | int64(t.LowDateTime)
}

var procGetThreadTimes = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetThreadTimes")

func getThreadTimes(h windows.Handle, c, e, k, u *windows.Filetime) error {
	r, _, err := procGetThreadTimes.Call(uintptr(h), uintptr(unsafe.Pointer(c)), uintptr(unsafe.Pointer(e)), uintptr(unsafe.Pointer(k)), uintptr(unsafe.Pointer(u)))
	if r == 0 {
		return err
	}
	return nil
}

// ClockRes returns a host clock's resolution in nanoseconds: 100 ns, the
// unit of Windows' times (the performance counter of the monotonic clock
// is usually that fine or finer).
func ClockRes(clock int32) (int64, Errno) {
	if clock < ClockRealtime || clock > ClockThreadCPU {
		return 0, EINVAL
	}
	return 100, ESUCCESS
}
