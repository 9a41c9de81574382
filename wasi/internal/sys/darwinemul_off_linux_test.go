//go:build !darwinemul

package sys

// walkTest: the tests run against openat2 (path_openat2_linux.go).
const walkTest = false
