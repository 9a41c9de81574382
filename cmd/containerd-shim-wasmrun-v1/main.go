// Command containerd-shim-wasmrun-v1 is the containerd shim for the
// runtime io.containerd.wasmrun.v1: `ctr run --runtime
// io.containerd.wasmrun.v1 ...` runs a WebAssembly (WASI) module as a task.
package main

import "github.com/wasmrun/wasmrun/shim"

func main() {
	shim.Main()
}
