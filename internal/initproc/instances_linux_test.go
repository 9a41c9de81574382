package initproc

import (
	"testing"
	"time"
)

// TestBackoff: an instance's replacement waits 100ms, doubling for each
// quick end up to 5s, and 100ms again after one that ran for 10s.
func TestBackoff(t *testing.T) {
	var got []time.Duration
	wait := time.Duration(0)
	for range 8 {
		wait = backoff(wait, time.Second)
		got = append(got, wait)
	}
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 5000, 5000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("waits %v, want %v ms", got, want)
		}
	}
	if w := backoff(5*time.Second, 10*time.Second); w != 100*time.Millisecond {
		t.Errorf("after an instance that ran 10s: wait %v, want 100ms", w)
	}
}
