// Command wasmrun-init is the container process of wasmrun: the program
// that `wasmrun os` and containerd-shim-wasmrun-v1 start, in the
// container's namespaces, to run one WebAssembly module (package
// initproc). It is not meant to be run by hand; it is installed next to
// them.
package main

import (
	"fmt"
	"os"

	"github.com/wasmrun/wasmrun/internal/initproc"
)

func main() {
	if !initproc.IsInit() {
		fmt.Fprintln(os.Stderr, "wasmrun-init: the container process of wasmrun, started by `wasmrun os` and containerd-shim-wasmrun-v1; not meant to be run by hand")
		os.Exit(2)
	}
	os.Exit(initproc.Main())
}
