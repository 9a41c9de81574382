//go:build darwinemul

package sys

// walkTest: the tests run against the walk of macOS (path_emul_linux.go).
const walkTest = true
