// Command containerd-shim-wasmrun-v1 is the containerd shim for the
// runtime io.containerd.wasmrun.v1: `ctr run --runtime
// io.containerd.wasmrun.v1 ...` runs a WebAssembly (WASI) module as a task.
package main

import (
	"os"

	"github.com/wasmrun/wasmrun/oci"
	"github.com/wasmrun/wasmrun/shim"
)

func main() {
	// A container process is this binary re-executed: it must not reach
	// any shim code.
	if oci.IsInit() {
		os.Exit(oci.Init())
	}
	shim.Main()
}
