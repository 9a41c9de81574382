//go:build !darwinemul

package wasi

// fileTimeRes: file times are set to the nanosecond.
const fileTimeRes = 1
