// Package atomicfile replaces files so that a reader, or a process killed
// at any instant, sees the old content or the new, never a part of it:
// the state files of oci, cni and the shim are all written this way.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write replaces path with data, mode perm: it writes a temporary file in
// the same directory, named by pattern (as os.CreateTemp; "" is
// ".BASE.*.tmp"), and renames it over path. The temporary file is removed
// when Write fails; one left by a kill is the caller's to collect (a
// pattern can name its writer for that).
func Write(path string, data []byte, perm os.FileMode, pattern string) error {
	dir := filepath.Dir(path)
	if pattern == "" {
		pattern = "." + filepath.Base(path) + ".*.tmp"
	}
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil && perm != 0o600 { // CreateTemp's
		err = f.Chmod(perm)
	}
	if err1 := f.Close(); err == nil {
		err = err1
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
