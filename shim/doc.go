// Package shim is the containerd runtime shim io.containerd.wasmrun.v1.
// It owns nothing itself: the subpackages do the work.
//
//   - manager: the shim binary containerd-shim-wasmrun-v1, which containerd
//     runs for the start and delete actions: it starts the server
//     (protobuf bootstrap vs the plain-address protocol of containerd <
//     2.3, the bundle's address file) and answers the delete of a task
//     removed completely. It is lean, as it is on the path of every
//     container start and delete.
//   - server: the shim server program wasmrun-shim, which serves the task
//     API, and does the delete action of a task that left something.
//   - task: the containerd task API (v2 and v3) translated into oci
//     container calls, plus the task events.
//   - bundlefile: what a task keeps in its bundle (exit, pid, removal mark).
//   - native: a container whose entrypoint is not wasm (an ELF binary, a
//     script) run by runc from the same bundle, behind the same task API.
//
// shim never calls cni/ or wasi/ directly: every wasm container goes
// through oci, every native one through runc.
package shim

import (
	"github.com/wasmrun/wasmrun/shim/manager"
	"github.com/wasmrun/wasmrun/shim/server"
)

// RuntimeName is the runtime name containerd maps to the shim binary.
const RuntimeName = manager.RuntimeName

// Main runs the shim server program (wasmrun-shim).
func Main() { server.Main() }
