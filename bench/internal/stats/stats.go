// Package stats holds the small summaries the benchmark programs print:
// median, mean and millisecond formatting of durations.
package stats

import (
	"fmt"
	"slices"
	"time"
)

// Median returns the median of d (0 for none).
func Median(d []time.Duration) time.Duration {
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

// Mean returns the mean of d (0 for none).
func Mean(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return sum / time.Duration(len(d))
}

// Ms formats d in milliseconds with a precision that suits its size.
func Ms(d time.Duration) string {
	f := float64(d) / 1e6
	if f < 10 {
		return fmt.Sprintf("%.2f ms", f)
	}
	return fmt.Sprintf("%.1f ms", f)
}
