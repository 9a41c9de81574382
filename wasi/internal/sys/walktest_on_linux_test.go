//go:build walktest

package sys

// walkTest: the tests run against the walk of macOS (path_walk_linux.go).
const walkTest = true
