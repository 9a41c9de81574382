// Package size reads sizes the way Docker's flags write them: a number of
// bytes with an optional b, k, m or g suffix (powers of 1024), as in 256m
// or 1g. It is shared by the CLI's limits and the compiled-module cache's
// bound.
package size

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Parse returns the number of bytes s names; s must be positive.
func Parse(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1}} {
		if v, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = v, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q: want a size such as 256m or 1g", s)
	}
	return n * mult, nil
}
