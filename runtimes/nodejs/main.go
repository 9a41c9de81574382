// Command nodejs is wasmrun's Node-style JavaScript runtime: a WASI
// (GOOS=wasip1) program embedding the goja engine with the goja_nodejs
// modules (require, Buffer, URL) and Node APIs of its own on real sockets
// (http, net, dns through the WasmEdge socket extension), files (fs),
// process, events, timers, path, os and util.
//
// Usage inside the guest:
//
//	nodejs.wasm [--] ENTRY.js [ARGS...]
//
// A relative ENTRY is resolved against $PWD (else the working directory).
// The exit code follows node: process.exit(code), else process.exitCode,
// else 0; an uncaught exception or unhandled rejection prints its stack to
// stderr and exits 1. Build with scripts/build-runtimes.sh nodejs.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
)

func main() {
	defer func() {
		if v := recover(); v != nil {
			fmt.Fprintf(os.Stderr, "nodejs: internal error: %v\n", v)
			os.Exit(70)
		}
	}()
	if os.Getenv("GOGC") == "" {
		// goja allocates a lot and the wasm GC is single-threaded: trade
		// some memory for time.
		debug.SetGCPercent(400)
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 || args[0] == "" {
		fmt.Fprintln(os.Stderr, "usage: nodejs.wasm [--] ENTRY.js [ARGS...]")
		return 9 // node's "invalid argument" exit code
	}
	entry := args[0]
	if !filepath.IsAbs(entry) {
		base := os.Getenv("PWD")
		if base == "" {
			base, _ = os.Getwd()
		}
		if base == "" {
			base = "/"
		}
		entry = filepath.Join(base, entry)
	}
	entry = filepath.Clean(entry)
	if st, err := os.Stat(entry); err != nil || st.IsDir() {
		fmt.Fprintf(os.Stderr, "nodejs: cannot find module '%s'\n", entry)
		return 1
	}
	rt := newRuntime(entry, args[1:])
	return rt.main()
}
