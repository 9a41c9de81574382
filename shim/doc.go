// Package shim is the containerd runtime shim io.containerd.wasmrun.v1
// (binary containerd-shim-wasmrun-v1). It owns nothing itself: the
// subpackages do the work.
//
//   - manager: the shim binary's own lifecycle (the start and delete
//     actions, protobuf bootstrap vs the plain-address protocol of
//     containerd < 2.3, the bundle's address file).
//   - task: the containerd task API (v2 and v3) translated into oci
//     container calls, plus the task events.
//   - native: a container whose entrypoint is not wasm (an ELF binary, a
//     script) run by runc from the same bundle, behind the same task API.
//
// shim never calls cni/ or wasi/ directly: every wasm container goes
// through oci, every native one through runc.
package shim

import (
	"github.com/wasmrun/wasmrun/shim/manager"
	// The task service registers itself as a shim plugin.
	_ "github.com/wasmrun/wasmrun/shim/task"
)

// RuntimeName is the runtime name containerd maps to this shim binary.
const RuntimeName = manager.RuntimeName

// Main runs the shim binary (every action containerd invokes it with).
func Main() { manager.Main() }
