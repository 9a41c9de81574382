package runner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasmrun/wasmrun/internal/trust"
)

// CacheEnv overrides the default compiled-module cache directory.
const CacheEnv = "WASMRUN_CACHE_DIR"

// DefaultCacheDir is $WASMRUN_CACHE_DIR, else <user cache dir>/wasmrun, else
// "" (no cache) when the user has no cache dir ($HOME and $XDG_CACHE_HOME
// unset).
func DefaultCacheDir() string {
	if d := os.Getenv(CacheEnv); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "wasmrun")
	}
	return ""
}

// SlowCompile is how long a compile may take before Options.Progress reports
// it (progress.go). A variable so that tests can lower it.
var SlowCompile = time.Second

// compiled is a module compiled in its own runtime, and the cache (if any)
// whose engine the runtime uses: Close releases both.
type compiled struct {
	runtime wazero.Runtime
	module  wazero.CompiledModule
	cache   wazero.CompilationCache
	// elapsed is how long compiling (or reading the cache) took.
	elapsed time.Duration
}

// Close releases the runtime, then the cache's engine. A second Close does
// nothing.
func (c *compiled) Close(ctx context.Context) error {
	if c.runtime == nil {
		return nil
	}
	err := c.runtime.Close(ctx)
	if c.cache != nil {
		if cerr := c.cache.Close(ctx); err == nil {
			err = cerr
		}
	}
	c.runtime, c.cache = nil, nil
	return err
}

// compile compiles opts.Wasm through the compiled-module cache in
// opts.CacheDir, if any. The cache never fails a run: a cache that cannot be
// created, read or written costs one warning line on opts.Diag and the
// module is compiled without it. A corrupt entry is removed (with the rest of
// wazero's cache for this version) so that the next run is clean and quiet.
// Only an invalid module is an error.
func compile(ctx context.Context, opts Options) (*compiled, error) {
	prog := startProgress(opts)
	warned := false
	warn := func(format string, args ...any) {
		if opts.Diag != nil && !warned {
			prog.println(opts.Diag, fmt.Sprintf("wasmrun: warning: "+format, args...))
		}
		warned = true
	}
	start := time.Now()
	var c *compiled
	var err error
	if opts.CacheDir != "" {
		// Other errors (not a directory, ...) are compileCached's to
		// report: the cache is unusable.
		terr := error(nil)
		switch {
		case !opts.CacheChecked:
			terr = TrustCache(opts.CacheDir)
		case opts.CacheUntrusted != "":
			terr = fmt.Errorf("%s: %w", opts.CacheUntrusted, trust.ErrNotTrusted)
		}
		if errors.Is(terr, trust.ErrNotTrusted) {
			warn("compiled-module cache %s is not used: %s (whoever could write an entry there would have wasmrun run their machine code); compiling without it", opts.CacheDir, UntrustedWhy(terr))
		} else {
			c, err = compileCached(ctx, opts, warn)
			if c != nil && c.cache != nil {
				maybePrune(opts.CacheDir, cacheMax())
			}
		}
	}
	if c == nil && err == nil {
		c, err = compileWith(ctx, opts, nil)
	}
	if err != nil {
		prog.finish("")
		return nil, err
	}
	c.elapsed = time.Since(start)
	where := "not cached"
	if c.cache != nil && !warned {
		where = "cached in " + opts.CacheDir + ", the next start is fast"
	}
	prog.finish(where)
	return c, nil
}

// compileCached compiles through the cache. It returns (nil, nil) when the
// caller should compile without a cache (after a warning).
func compileCached(ctx context.Context, opts Options, warn func(string, ...any)) (*compiled, error) {
	dir := opts.CacheDir
	cache, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		cache.Close(ctx)
		warn("compiled-module cache %s is unusable (%v); compiling without it", dir, err)
		return nil, nil
	}
	c, err := compileWith(ctx, opts, cache)
	if err == nil || !isCacheError(err) {
		return c, closeOnError(ctx, cache, err)
	}
	if isCorruptEntry(err) {
		// wazero does not say which entry it could not read, so clear its
		// whole cache (other modules recompile once) and try again.
		if rerr := clearCache(dir); rerr != nil {
			warn("compiled-module cache %s is corrupt (%v) and could not be cleared (%v); compiling without it", dir, err, rerr)
			return nil, nil
		}
		warn("compiled-module cache %s had a corrupt entry (%v); cleared it and compiling again", dir, err)
		cache.Close(ctx)
		if cache, err = wazero.NewCompilationCacheWithDir(dir); err != nil {
			cache.Close(ctx)
			return nil, nil
		}
		if c, err = compileWith(ctx, opts, cache); err == nil || !isCacheError(err) {
			return c, closeOnError(ctx, cache, err)
		}
	}
	// Reading or writing the cache failed. When writing failed, the module
	// is compiled and held in the cache's engine: compiling again there
	// costs nothing (and reading fails the same way again otherwise).
	warn("compiled-module cache %s is unusable (%v); compiling without it", dir, err)
	if c, err = compileWith(ctx, opts, cache); err == nil || !isCacheError(err) {
		return c, closeOnError(ctx, cache, err)
	}
	cache.Close(ctx)
	return nil, nil
}

func closeOnError(ctx context.Context, cache wazero.CompilationCache, err error) error {
	if err != nil {
		cache.Close(ctx)
	}
	return err
}

// compileWith compiles in a new runtime using cache (nil for none). On error
// it closes what it made, except the cache.
func compileWith(ctx context.Context, opts Options, cache wazero.CompilationCache) (*compiled, error) {
	cfg := wazero.NewRuntimeConfig().WithCloseOnContextDone(opts.Interruptible).WithDebugInfoEnabled(opts.DebugInfo)
	if opts.MemoryLimitPages > 0 {
		cfg = cfg.WithMemoryLimitPages(opts.MemoryLimitPages)
	}
	if cache != nil {
		cfg = cfg.WithCompilationCache(cache)
	}
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	mod, err := r.CompileModule(ctx, opts.Wasm)
	if err != nil {
		r.Close(ctx)
		if cache != nil && isCacheError(err) {
			return nil, err
		}
		return nil, errorf("module %s: invalid WebAssembly: %v", opts.Path, err)
	}
	return &compiled{runtime: r, module: mod, cache: cache}, nil
}

// isCacheError tells a failure of the compilation cache from an invalid
// module. Decoding and validation happen before the engine sees the cache,
// so any error from a valid module is either a file error of the cache
// (opening, creating, renaming an entry) or a corrupt entry.
func isCacheError(err error) bool {
	var pe *fs.PathError
	var le *os.LinkError
	return errors.As(err, &pe) || errors.As(err, &le) || isCorruptEntry(err)
}

// isCorruptEntry is wazero's error for an entry it cannot decode (truncated,
// bad magic, checksum mismatch).
func isCorruptEntry(err error) bool {
	return strings.HasPrefix(err.Error(), "compilationcache:")
}

// clearCache removes wazero's per-version subdirectories of a cache dir
// (wazero-VERSION-ARCH-OS), leaving anything else there alone.
func clearCache(dir string) error {
	subs, err := filepath.Glob(filepath.Join(dir, "wazero-*"))
	if err != nil {
		return err
	}
	for _, s := range subs {
		if err := os.RemoveAll(s); err != nil {
			return fmt.Errorf("remove %s: %w", s, err)
		}
	}
	return nil
}

func size(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
