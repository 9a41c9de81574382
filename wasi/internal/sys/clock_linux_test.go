package sys

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestFastNowMatchesClockGettime: the vDSO readings are the same clocks as
// clock_gettime: a syscall reading lies between two fast readings.
func TestFastNowMatchesClockGettime(t *testing.T) {
	for _, tc := range []struct {
		name  string
		clock int32
	}{{"monotonic", unix.CLOCK_MONOTONIC}, {"realtime", unix.CLOCK_REALTIME}} {
		t.Run(tc.name, func(t *testing.T) {
			before, ok := fastNow(tc.clock)
			if !ok {
				t.Fatal("fastNow: not ok")
			}
			var ts unix.Timespec
			if err := unix.ClockGettime(tc.clock, &ts); err != nil {
				t.Fatal(err)
			}
			after, _ := fastNow(tc.clock)
			// Realtime readings may differ by the clock's resolution.
			if sys := ts.Nano(); sys < before-1000 || sys > after+1000 {
				t.Errorf("clock_gettime %d not within fast readings [%d, %d]", sys, before, after)
			}
		})
	}
	if _, ok := fastNow(unix.CLOCK_PROCESS_CPUTIME_ID); ok {
		t.Error("fastNow(CLOCK_PROCESS_CPUTIME_ID): ok, want a syscall")
	}
}
