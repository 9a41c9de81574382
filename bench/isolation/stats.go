package main

import (
	"fmt"
	"github.com/wasmrun/wasmrun/bench/internal/stats"
	"time"
)

// series is the timings of one implementation in one scenario: the time
// to a ready namespace and the time of the teardown after it.
type series struct {
	ready, teardown []time.Duration
}

func (s *series) add(ready, teardown time.Duration) {
	s.ready = append(s.ready, ready)
	s.teardown = append(s.teardown, teardown)
}

func (s *series) total() []time.Duration {
	out := make([]time.Duration, len(s.ready))
	for i := range s.ready {
		out[i] = s.ready[i] + s.teardown[i]
	}
	return out
}

// ms formats d in milliseconds with a precision that suits its size.
// medMean formats "median (mean)".
func medMean(d []time.Duration) string {
	return ms(median(d)) + " (" + ms(mean(d)) + ")"
}

func ratio(x, base time.Duration) string {
	if base == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", float64(x)/float64(base))
}

var (
	median = stats.Median
	mean   = stats.Mean
	ms     = stats.Ms
)
