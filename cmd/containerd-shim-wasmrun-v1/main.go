// Command containerd-shim-wasmrun-v1 is the containerd shim for the
// runtime io.containerd.wasmrun.v1: `ctr run --runtime
// io.containerd.wasmrun.v1 ...` runs a WebAssembly (WASI) module as a task.
// This binary does the start and delete actions containerd runs for every
// shim; the shim server it starts is wasmrun-shim, installed next to it.
package main

import (
	"github.com/wasmrun/wasmrun/internal/inherited"
	"github.com/wasmrun/wasmrun/shim/manager"
)

func main() {
	inherited.CloseOnExec()
	manager.Main()
}
