package oci

import (
	"fmt"
	"os"

	"github.com/wasmrun/wasmrun/internal/initproc"
	"github.com/wasmrun/wasmrun/internal/runner"
)

// protectCache keeps the compiled-module caches out of the guest's reach
// for writing (runner.CachesWithin: the one this container loads from,
// cacheDir, and the default one later starts use). A cache within a
// directory the guest may write is made read-only in the container's
// mount namespace once the container process has loaded its module (it
// writes the cache itself); a directory the guest may write that is a
// cache or within one is refused. m may be nil (and is made then).
func protectCache(m **initproc.Mounts, preopens []Preopen, cacheDir string) error {
	var writable []string
	for _, p := range preopens {
		if !p.ReadOnly {
			writable = append(writable, p.HostPath)
		}
	}
	within, err := runner.CachesWithin(writable, cacheDir)
	if err != nil {
		return err
	}
	for _, c := range within {
		// Read-only needs the directory: an empty one the guest made
		// would take entries that a later start trusts.
		if err := os.MkdirAll(c, 0o700); err != nil {
			return fmt.Errorf("compiled-module cache %s: %w", c, err)
		}
		if *m == nil {
			*m = &initproc.Mounts{}
		}
		(*m).Protected = append((*m).Protected, c)
	}
	return nil
}
