package cni

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/cni/procnet"
)

// simulatedNet is simulated isolation: no namespace, the app's sockets are
// host sockets, and its container process keeps a port space of the app's
// own on the host's loopback (wasi.VirtualPorts: a port P the guest binds
// is a free host port H there). The table lives in that process, next to
// the sockets, so it is exact at every instant (a closed socket gives its
// port back at once) and needs no protocol to keep it; the two things
// outside that need it are served from there:
//
//   - forwards: the userspace forwarder listens on the host's ports here
//     and, as in rootless mode, asks the process over a socket pair to dial
//     127.0.0.1:G, which it translates to G's host port (procnet.Child.Dial):
//     no host port of the app is ever trusted from outside the process;
//   - `ps`: the process writes the table to a memfd of ours it inherits
//     (procnet.WritePorts), read at /proc/PID/fd/N (Record.Ports, ReadPorts),
//     which disappears with the process.
//
// It is not a kernel boundary: any process of the machine can connect to
// the app's host ports, and the app's outbound traffic leaves from the
// host's addresses (under the egress policy, never to the host's own
// addresses unless allowed).
type simulatedNet struct {
	opts   Options
	subnet string
	log    Logf

	pid     int
	portsFD int      // in the process
	ports   *os.File // the memfd, ours
	dialForward
	once sync.Once
}

func planSimulated(cfg Config, t Target, o Options, logf Logf) (Network, error) {
	if t.Join != "" {
		return nil, errors.New("simulated isolation cannot join a network namespace (the spec names one)")
	}
	if o.Bridge {
		return nil, errors.New("simulated isolation has no namespace to attach a bridge to")
	}
	if err := ValidateForwards(o.Forwards); err != nil {
		return nil, err
	}
	return &simulatedNet{opts: o, subnet: cmp.Or(cfg.Bridge.Subnet, DefaultSubnet), log: logf}, nil
}

func (n *simulatedNet) Mode() NetworkMode { return NetSimulated }

// Prepare makes the port table's file and starts the forwarder (its host
// ports are bound here: a taken one fails before any process exists).
func (n *simulatedNet) Prepare(_ context.Context, cmd *exec.Cmd) (Child, error) {
	n.log("network: simulated isolation: no namespace; the app's ports are free ports on the host's loopback, its own to reach")
	blocked, err := procnet.BlockedFromApps(n.subnet)
	if err != nil {
		return Child{}, err
	}
	if !n.opts.Outbound {
		// Nowhere but its own ports (and what an allow entry names).
		blocked = append(blocked, netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0"))
	}
	fd, err := unix.MemfdCreate("wasmrun-ports", unix.MFD_CLOEXEC)
	if err != nil {
		return Child{}, fmt.Errorf("create the port table's file: %w", err)
	}
	n.ports = os.NewFile(uintptr(fd), "ports")
	cmd.ExtraFiles = append(cmd.ExtraFiles, n.ports)
	n.portsFD = 2 + len(cmd.ExtraFiles) // ExtraFiles[i] is fd 3+i
	child := Child{Simulated: &procnet.Simulated{Blocked: blocked, Subnet: n.subnet, PortsFD: n.portsFD, Offline: !n.opts.Outbound}}
	if len(n.opts.Forwards) == 0 {
		return child, nil
	}
	if child.DialFD, err = n.start(cmd, n.opts.Forwards, n.log); err != nil {
		return Child{}, err
	}
	return child, nil
}

func (n *simulatedNet) Path() string { return "" }

// Started closes our copy of the process's end of the dial socket pair.
func (n *simulatedNet) Started(pid int, err error) error {
	n.started()
	if err == nil {
		n.pid = pid
	}
	return err
}

func (n *simulatedNet) Record() Record {
	r := Record{Mode: NetSimulated}
	if n.pid > 0 {
		r.Ports = fmt.Sprintf("/proc/%d/fd/%d", n.pid, n.portsFD)
	}
	return r
}

func (n *simulatedNet) Teardown(context.Context) error {
	n.once.Do(func() {
		n.close()
		if n.ports != nil {
			n.ports.Close()
		}
	})
	return nil
}

// ReadPorts returns the port table of a simulated app's running process
// (nil for another mode, or a process that has not started).
func ReadPorts(rec Record) ([]procnet.Port, error) {
	if rec.Mode != NetSimulated || rec.Ports == "" {
		return nil, nil
	}
	return procnet.ReadPorts(rec.Ports)
}
