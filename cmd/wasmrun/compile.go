package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/wasmrun/wasmrun/internal/runner"
)

// compileCmd is `wasmrun compile [--cache-dir DIR] MODULE...`: each module
// is compiled into the compiled-module cache that `wasmrun run` and
// `wasmrun os` read by default (or DIR), so that its first start is a
// warm one. `make runtimes` runs it for the language runtimes. A module
// already in the cache is only read back (well under a second).
func compileCmd(args []string, stdout, stderr *os.File) int {
	var cacheDir, first string
	var modules []string
	err := parseFlags(args, &first, &modules, map[string]flagSpec{
		"cache-dir": {value: true, set: func(v string) error { cacheDir = v; return nil }},
	})
	if first != "" {
		modules = append([]string{first}, modules...)
	}
	if err == nil && len(modules) == 0 {
		err = errors.New("missing MODULE (usage: wasmrun compile [--cache-dir DIR] MODULE...)")
	}
	if err == nil && cacheDir == "" {
		if cacheDir = runner.DefaultCacheDir(); cacheDir == "" {
			err = fmt.Errorf("no cache directory: set $HOME, $%s or --cache-dir", runner.CacheEnv)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "wasmrun compile: %v\n", err)
		return ExitFailure
	}
	code := 0
	for _, m := range modules {
		res, err := runner.Precompile(context.Background(), runner.Options{Path: m, CacheDir: cacheDir})
		if err != nil {
			fmt.Fprintf(stderr, "wasmrun compile: %v\n", err)
			code = ExitFailure
			continue
		}
		fmt.Fprintf(stdout, "%s: %s, cache %s\n", m, res, cacheDir)
	}
	return code
}
