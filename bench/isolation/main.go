// Command isolation measures the cost of network isolation for
// bench/isolation.sh (make bench): the time to a ready namespace with our
// cni package against plain libcni running the same plugins, and the
// start-to-exit time of `wasmrun os` against `wasmrun run`. Timings are
// printed as Markdown tables with ratios, never asserted.
//
//	isolation cni [flags]                  # needs root; the namespace table
//	isolation start [flags] NAME CMD ...   # the start-to-exit table
//
// The cni mode measures, interleaving ours and plain on every iteration so
// that a changing machine load hits both alike:
//   - namespace + loopback: cni.Manager Setup (lo up by ioctl) and Teardown,
//     against a namespace made with the plugins' testutils.NewNS plus the
//     loopback plugin through libcni (ADD, DEL, unmount);
//   - bridge + portmap with one forward: cni.Manager Setup and Teardown,
//     against testutils.NewNS plus libcni AddNetworkList/DelNetworkList of
//     exactly the network list our Manager generated (read back from its
//     state file), same plugin dirs, same cniVersion, same IPAM dir.
//
// Everything it makes is private (namespace prefix, state, libcni cache and
// IPAM dirs under -dir, bridge -bridge-name on -subnet) and removed at the
// end, on error and on SIGINT/SIGTERM.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "cni":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		err = runCNI(ctx, os.Args[2:])
		stop()
	case "start":
		err = runStart(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "isolation: %v\n", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: isolation cni [-loopback N] [-bridge N] [-dir D] [-bridge-name B] [-subnet S]\n"+
		"       isolation start [-runs N] [-warmup N] [-want OUT] NAME COMMAND [NAME COMMAND...]")
	os.Exit(2)
}
