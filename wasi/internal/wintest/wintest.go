// Package wintest holds what the Windows tests of package wasi and its
// system layer share. It is for _test.go files only.
package wintest

import (
	"os"
	"path/filepath"
	"testing"
)

// TempDir is t.TempDir, removed with os.Remove (DeleteFile on Windows):
// Go's RemoveAll deletes with FILE_DISPOSITION_INFORMATION_EX, which Wine
// 8 refuses, failing every test under Wine at its cleanup.
func TempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "wasmrun-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeTree(dir) })
	return dir
}

func removeTree(path string) {
	if ents, err := os.ReadDir(path); err == nil {
		for _, e := range ents {
			removeTree(filepath.Join(path, e.Name()))
		}
	}
	os.Remove(path)
}
