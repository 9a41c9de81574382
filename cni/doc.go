// Package cni owns the network namespace lifecycle of a wasm container: it
// joins an existing namespace, creates a named one (<prefix>-<id> under
// /run/netns, loopback up, optionally a CNI bridge network and portmap
// forwards), or uses the host network; it tears down what it created (CNI DEL
// with the arguments saved at ADD, namespace unmount, state removal) and
// garbage-collects the leftovers of crashed runs.
//
// It also holds the small network helpers the runtime needs around a
// namespace: the resolv.conf/hosts files a guest should see, rootless
// detection, a check that a host port is free, and a userspace port forwarder
// (host listens, connects from inside the namespace) for rootless runs and
// hosts without CNI plugins.
//
// What it must not do: it never imports wazero or the wasi packages, never
// starts or signals the container process (that is package oci), and never
// touches a namespace it did not create except to join it (a joined
// namespace is left alone at teardown). Plugins run through libcni
// (github.com/containernetworking/cni) from the configured directories,
// /opt/cni/bin and /usr/lib/cni.
package cni
