package main

import (
	"fmt"
	"github.com/wasmrun/wasmrun/bench/internal/stats"
)

// ms formats d in milliseconds with a precision that suits its size.
// mb formats a size in kB as MB.
func mb(kb int) string { return fmt.Sprintf("%.1f MB", float64(kb)/1024) }

var (
	median = stats.Median
	mean   = stats.Mean
	ms     = stats.Ms
)
