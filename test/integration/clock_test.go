package integration

import (
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestClockRandom: the guest's wall clock is the host's, its monotonic
// clock never goes back, a 100 ms sleep takes 100 ms (not less, not much
// more) and random bytes differ between calls.
func TestClockRandom(t *testing.T) {
	forEachLang(t, true, func(t *testing.T, l lang) {
		wasm := l.build(t, "clock_random")
		before := time.Now().Add(-time.Millisecond) // slack for clock resolution
		r := run(t, nil, "run", wasm)
		after := time.Now().Add(time.Millisecond)
		mustExit(t, r, 0)

		rt, err := strconv.ParseInt(field(t, r.stdout, "realtime"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if g := time.Unix(0, rt); g.Before(before) || g.After(after) {
			t.Errorf("guest realtime %v outside the run [%v, %v]", g, before, after)
		}
		if v := field(t, r.stdout, "monotonic"); v != "ok" {
			t.Errorf("monotonic clock went backwards")
		}
		ms, _ := strconv.Atoi(field(t, r.stdout, "sleep_ms"))
		if ms < 100 || ms >= 1000 {
			t.Errorf("sleep of 100 ms took %d ms", ms)
		}

		var randoms []string
		for _, line := range lines(r.stdout) {
			if v, ok := strings.CutPrefix(line, "random "); ok {
				randoms = append(randoms, v)
			}
		}
		if len(randoms) != 2 {
			t.Fatalf("want 2 random lines, got %q", randoms)
		}
		for _, v := range randoms {
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != 32 || strings.Trim(v, "0") == "" {
				t.Errorf("random bytes %q: want 32 non-zero bytes", v)
			}
		}
		if randoms[0] == randoms[1] {
			t.Errorf("two random_get calls gave the same bytes %s", randoms[0])
		}

		if l.name == "c" {
			for _, k := range []string{"res_realtime", "res_monotonic"} {
				res, _ := strconv.ParseInt(field(t, r.stdout, k), 10, 64)
				if res <= 0 || res > int64(time.Millisecond) {
					t.Errorf("%s = %d ns, want in (0, 1ms]", k, res)
				}
			}
			if v := field(t, r.stdout, "cputime"); v != "ok" {
				t.Errorf("process CPU clock did not advance over a busy loop")
			}
		}
	})
}
