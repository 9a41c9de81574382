// Package cni is the network of a wasm container, as one object chosen
// once: Plan(config, target, options) decides from the spec (host network,
// a namespace to join, or one of the container's own) and the front end's
// choices which Network it gets: the host's or a joined namespace (nothing
// to make), a named namespace of ours (<prefix>-<id> under /run/netns,
// loopback up) forwarded into by CNI portmap or by a userspace forwarder,
// or, without root, a user + network namespace made with the process; or,
// with simulated isolation, no namespace at all: a port space of the app's
// own that its container process keeps on the host's loopback. Every
// mode has the same small interface (Prepare, Path, Started, Exited,
// Record, Teardown), so the container runtime has no switch; Release and GC
// remove what a crashed or other process left (CNI DEL with the arguments
// saved at ADD, namespace unmount, state removal).
//
// Isolation is part of the object: a namespace on the CNI bridge gets an
// isolated bridge port and a firewall inside it, and outbound traffic of an
// app without a bridge goes through host sockets its creator makes
// (ServeSockets), with the addresses it may never reach (the host's own,
// other apps') handed to the container process with them; a TCP socket
// comes connecting to a destination the creator checked, held to that
// peer by a locked socket filter, and UDP is relayed by the creator,
// which checks every datagram's destination.
//
// It also holds the small helpers around a namespace: the resolv.conf/hosts
// files a guest should see, rootless detection, a check that a host port
// is free, and the userspace port forwarder.
//
// What it must not do: it never imports wazero or the wasi packages, never
// starts or signals the container process (that is package oci), and never
// touches a namespace, bridge or subnet it did not create except to join
// it. Plugins run through libcni (github.com/containernetworking/cni) from
// the configured directories, /opt/cni/bin and /usr/lib/cni.
package cni
