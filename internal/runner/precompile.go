package runner

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Precompiled is what Precompile did with one module.
type Precompiled struct {
	// Size is the module's size in bytes.
	Size int
	// Elapsed is how long compiling (or reading the cache) took.
	Elapsed time.Duration
	// WasCached reports that the cache already held the module.
	WasCached bool
}

// Precompile compiles opts.Wasm (read from opts.Path when nil) into the
// compiled-module cache opts.CacheDir without running it, so that its next
// start with the same cache reads the machine code instead of compiling.
// The entry is the one Run uses: wazero keys it by the module's bytes, the
// CPU and whether the module is interruptible, so opts must set
// Interruptible as the runs will (off for `wasmrun run` and `wasmrun os`).
//
// Unlike a run, Precompile fails when the cache cannot be used: a missing
// CacheDir, a directory that cannot be created or written, as well as an
// invalid module, are errors.
func Precompile(ctx context.Context, opts Options) (Precompiled, error) {
	if opts.CacheDir == "" {
		return Precompiled{}, errorf("module %s: no compiled-module cache directory to compile into", opts.Path)
	}
	if opts.Wasm == nil {
		var err error
		if opts.Wasm, err = Load(opts.Path); err != nil {
			return Precompiled{}, err
		}
	} else if !bytes.HasPrefix(opts.Wasm, wasmMagic) {
		return Precompiled{}, errorf("module %s: not a WebAssembly binary (no \\0asm header)", opts.Path)
	}
	before := cacheFiles(opts.CacheDir)
	// compile never fails a run because of the cache: it warns and goes
	// on. Here the warning is the error.
	var diag strings.Builder
	opts.Diag, opts.Progress = &diag, false
	start := time.Now()
	c, err := compile(ctx, opts)
	if err != nil {
		return Precompiled{}, err
	}
	elapsed := time.Since(start)
	cerr := c.Close(ctx)
	if diag.Len() > 0 {
		return Precompiled{}, errorf("%s", strings.TrimPrefix(strings.TrimSpace(diag.String()), "wasmrun: warning: "))
	}
	if cerr != nil {
		return Precompiled{}, errorf("module %s: close the compiled-module cache %s: %v", opts.Path, opts.CacheDir, cerr)
	}
	after := cacheFiles(opts.CacheDir)
	res := Precompiled{Size: len(opts.Wasm), Elapsed: elapsed, WasCached: after == before && after > 0}
	if after == 0 {
		return res, errorf("module %s: nothing was written to the compiled-module cache %s", opts.Path, opts.CacheDir)
	}
	return res, nil
}

// String describes a precompile result for one line of output.
func (p Precompiled) String() string {
	if p.WasCached {
		return fmt.Sprintf("already cached (%s, read in %s)", size(p.Size), p.Elapsed.Round(10*time.Millisecond))
	}
	return fmt.Sprintf("compiled (%s) in %s", size(p.Size), p.Elapsed.Round(10*time.Millisecond))
}

// cacheFiles counts the entries in wazero's per-version subdirectories of
// a cache dir (0 when there is none).
func cacheFiles(dir string) int {
	paths, _ := filepath.Glob(filepath.Join(dir, "wazero-*", "*"))
	return len(paths)
}
