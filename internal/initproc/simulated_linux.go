package initproc

import (
	"fmt"
	"os"

	"github.com/wasmrun/wasmrun/cni/procnet"
	"github.com/wasmrun/wasmrun/wasi"
)

// virtualPorts is the guest's own port space under simulated isolation
// (nil: the process has a namespace, or the host's network). The
// forwarder's dials go to its ports (c.Dial), and the table is kept in
// the file the creator gave for `ps`; with verbose, each port the guest
// takes is said on stderr with the host port that holds it.
func virtualPorts(id string, c *procnet.Child, verbose bool) *wasi.VirtualPorts {
	s := c.Simulated
	if s == nil {
		return nil
	}
	f := os.NewFile(uintptr(s.PortsFD), "ports")
	said := map[procnet.Port]bool{}
	failed := false
	vp := wasi.NewVirtualPorts(s.Blocked, func(tab []wasi.VirtualPort) {
		ports := make([]procnet.Port, len(tab))
		for i, p := range tab {
			ports[i] = procnet.Port(p)
			if verbose && !said[ports[i]] {
				said[ports[i]] = true
				fmt.Fprintf(os.Stderr, "wasmrun: guest port %d/%s is the host's %s (simulated isolation)\n", p.Port, p.Proto, p.Host)
			}
		}
		if err := procnet.WritePorts(f, ports); err != nil && !failed {
			failed = true // once: the app runs on without ps seeing its ports
			fmt.Fprintf(os.Stderr, "wasmrun: container %s: write port table: %v\n", id, err)
		}
	})
	vp.Offline = s.Offline
	// The process lives in the host's namespace: it follows the host's
	// addresses itself, the creator's list staying blocked too.
	if hb, err := procnet.NewHostBlocked(s.Subnet, s.Blocked, func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "wasmrun: container %s: %s\n", id, fmt.Sprintf(format, args...))
	}); err != nil {
		fmt.Fprintf(os.Stderr, "wasmrun: container %s: the host's addresses as they were at start stay the block list: %v\n", id, err)
	} else {
		// Asked when a socket first goes out of loopback: the kernel
		// queues a change before the command that made it returns, so
		// the next connect sees it.
		vp.Current = hb.List
	}
	procnet.WritePorts(f, nil) // a complete, empty table from the start
	c.Dial = vp.Dial
	return vp
}
