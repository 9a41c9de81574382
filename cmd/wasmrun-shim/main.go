// Command wasmrun-shim is the containerd shim server of the runtime
// io.containerd.wasmrun.v1: the long-running process that serves the
// task API. containerd-shim-wasmrun-v1 (the binary containerd runs)
// starts it; it is installed next to it and not meant to be run by hand.
package main

import (
	"github.com/wasmrun/wasmrun/internal/inherited"
	"github.com/wasmrun/wasmrun/shim"
)

func main() {
	inherited.CloseOnExec()
	shim.Main()
}
