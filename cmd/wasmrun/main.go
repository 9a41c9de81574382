// Command wasmrun runs WebAssembly (WASI) programs.
//
//	wasmrun run [flags] MODULE [-- ARGS...]   run in the current network namespace
//	wasmrun os [flags] APP [-- ARGS...]       run isolated in its own network namespace
//	wasmrun ps                                list running apps
//	wasmrun stop ID...                        stop apps
//	wasmrun version                           print the version
//
// Exit status: the guest's own exit code; 125 when wasmrun itself fails
// (bad flag, missing or invalid module, unsupported import) before the guest
// runs; 134 when the guest traps.
package main

import (
	"os"

	"github.com/wasmrun/wasmrun/internal/inherited"
)

func main() {
	inherited.CloseOnExec()
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
