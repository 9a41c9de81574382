// Package oci is the OCI runtime lifecycle of a wasm container: create,
// start, state, kill, wait and delete, from a runtime-spec bundle.
//
// A container is one child OS process: this binary re-executed in a hidden
// init mode (see Init), started from a thread that has entered the
// container's network namespace, so the whole process lives in it and
// /proc/<pid>/ns/net is the container's namespace. Create does the work
// (namespace, module compiled and instantiated) and leaves the child blocked
// on an exec FIFO in the state directory; Start, possibly from another
// process, opens the FIFO and so lets the guest run.
//
// oci turns the spec into a network mode for cni/ and a module, arguments,
// environment and preopens for the runner; it does not parse CLI flags or
// speak the containerd task API (cmd/wasmrun and shim/ do).
package oci
