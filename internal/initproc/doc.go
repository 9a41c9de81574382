// Package initproc is the container process: the program (cmd/wasmrun-init)
// that oci.Runtime.Create starts in the container's namespaces to set up
// what only the process itself can (lo of a namespace it owns, its mounts),
// compile or load the module, leave the host's file system for a root of
// its own (mounts_linux.go), drop to the spec's privileges, instantiate,
// and then wait for Start to run the guest: one instance of the module,
// or several that it supervises (instances_linux.go).
//
// It is kept small on purpose: it imports the WASI host, the runner and
// what it sets up itself (package procnet for the network), never oci, cni
// or cgroup libraries, so the process containerd, Kubernetes and `ps` see
// starts fast and costs little memory beyond the guest's.
package initproc
