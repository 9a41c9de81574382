package main

import (
	"fmt"
	"slices"
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

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func mean(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return sum / time.Duration(len(d))
}

// ms formats d in milliseconds with a precision that suits its size.
func ms(d time.Duration) string {
	f := float64(d) / 1e6
	if f < 10 {
		return fmt.Sprintf("%.2f ms", f)
	}
	return fmt.Sprintf("%.1f ms", f)
}

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
