package wasi

import (
	"net/netip"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// VirtualPorts is an app's own port space on the host's network, for
// simulated isolation (Config.VirtualPorts): a port P the guest binds is a
// free port on the host's loopback, its own connects to loopback reach
// only its own ports, and the rest of its traffic goes out as the host's,
// never to a Blocked address unless an allow entry names it. Dial reaches
// one of its ports from the host (the forwarder); Table lists them. See
// the system layer's VirtualPorts for the rules.
type VirtualPorts = sys.VirtualPorts

// VirtualPort is one entry of a VirtualPorts table.
type VirtualPort = sys.VirtualPort

// NewVirtualPorts returns an empty table. blocked are the addresses the
// app may not reach (the host's own, its bridges) unless an allow entry
// names them; changed, when set, is given the table after each change,
// on the guest's thread.
func NewVirtualPorts(blocked []netip.Prefix, changed func([]VirtualPort)) *VirtualPorts {
	return sys.NewVirtualPorts(blocked, changed)
}
