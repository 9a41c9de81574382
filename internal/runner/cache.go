package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
)

// CacheEnv overrides the default compiled-module cache directory.
const CacheEnv = "WASMRUN_CACHE_DIR"

// DefaultCacheDir is $WASMRUN_CACHE_DIR, else <user cache dir>/wasmrun.
func DefaultCacheDir() string {
	if d := os.Getenv(CacheEnv); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "wasmrun")
	}
	return ""
}

// compile returns a runtime and the compiled module. A cache that cannot be
// opened, read or written never fails the run: compile degrades to no cache
// with a warning on Diag.
func compile(ctx context.Context, opts Options) (wazero.Runtime, wazero.CompiledModule, error) {
	warn := func(format string, args ...any) {
		if opts.Diag != nil {
			fmt.Fprintf(opts.Diag, "wasmrun: warning: "+format+"\n", args...)
		}
	}
	if opts.CacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(opts.CacheDir)
		if err != nil {
			warn("compiled-module cache %s is unusable (%v); compiling without it", opts.CacheDir, err)
		} else {
			r, c, err := compileWith(ctx, opts, cache)
			if err == nil {
				return r, c, nil
			}
			if errors.As(err, new(*Error)) {
				return nil, nil, err
			}
			warn("compiled-module cache %s is unusable (%v); compiling without it", opts.CacheDir, err)
		}
	}
	r, c, err := compileWith(ctx, opts, nil)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, nil, err
		}
		return nil, nil, errorf("module %s: %v", opts.Path, err)
	}
	return r, c, nil
}

func compileWith(ctx context.Context, opts Options, cache wazero.CompilationCache) (wazero.Runtime, wazero.CompiledModule, error) {
	cfg := wazero.NewRuntimeConfig().WithCloseOnContextDone(true)
	if cache != nil {
		cfg = cfg.WithCompilationCache(cache)
	}
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	start := time.Now()
	// Validate the module without the cache first: a module that is not
	// valid wasm must be reported as such, not as a cache problem.
	compiled, err := r.CompileModule(ctx, opts.Wasm)
	if err != nil {
		r.Close(ctx)
		if cache != nil && isCacheError(err) {
			return nil, nil, err
		}
		return nil, nil, errorf("module %s: invalid WebAssembly: %v", opts.Path, err)
	}
	if elapsed := time.Since(start); opts.Progress && opts.Diag != nil && elapsed > SlowCompile {
		fmt.Fprintf(opts.Diag, "wasmrun: compiled %s (%s) in %s", opts.Path, size(len(opts.Wasm)), elapsed.Round(10*time.Millisecond))
		if cache != nil {
			fmt.Fprintf(opts.Diag, "; cached in %s, next start is fast", opts.CacheDir)
		}
		fmt.Fprintln(opts.Diag)
	}
	return r, compiled, nil
}

// isCacheError tells a failure of the compilation cache from an invalid
// module. wazero reports cache problems as file errors or with a
// "compilationcache" prefix.
func isCacheError(err error) bool {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return true
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"compilationcache", "permission denied", "read-only file system", "no space left"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
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
