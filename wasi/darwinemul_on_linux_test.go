//go:build darwinemul

package wasi

// fileTimeRes: file times are set to the microsecond, as on macOS (the
// darwinemul tag runs the system layer's macOS calls on Linux).
const fileTimeRes = 1000
