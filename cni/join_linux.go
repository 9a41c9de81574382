package cni

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/wasmrun/wasmrun/cni/procnet"
)

// Join is the network of a process that joins a running container's (an
// exec process): the container's namespace, as rec records it, and, when
// the container process reaches the outside through host sockets, a
// socket server of the joining process's own with the same limits: the
// container's blocked addresses as recorded at its create, and the host's
// and its bridges' as they are now (cfg's subnet included). Nothing is
// created in the namespace or removed from it. A container on the host's
// network is joined there; a rootless one cannot be joined (its
// namespace belongs to its process's user namespace).
func Join(cfg Config, rec Record) (Network, error) {
	log := cfg.Log
	if log == nil {
		log = func(string, ...any) {}
	}
	switch {
	case rec.Mode == NetRootless:
		return nil, fmt.Errorf("the container's network namespace belongs to its rootless process and cannot be joined")
	case rec.Mode == NetSimulated:
		return nil, fmt.Errorf("a container with simulated isolation cannot be joined: its port space is its process's")
	case rec.Path == "":
		return &hostNet{}, nil
	}
	if err := ns.IsNSorErr(rec.Path); err != nil {
		return nil, fmt.Errorf("join namespace %s: %w", rec.Path, err)
	}
	return &joinNet{hostNet: hostNet{join: rec.Path}, out: rec.Outbound, subnet: cmp.Or(cfg.Bridge.Subnet, DefaultSubnet), log: log}, nil
}

// joinNet joins a container's namespace and serves host sockets as the
// container's own network does.
type joinNet struct {
	hostNet
	out    *Outbound
	subnet string
	log    Logf
	theirs *os.File // the process's end of the socket pair, until it started
	policy *procnet.Policy
}

func (n *joinNet) Prepare(_ context.Context, cmd *exec.Cmd) (Child, error) {
	if n.out == nil {
		return Child{}, nil
	}
	out, theirs, policy, err := serveOutbound(cmd, n.subnet, *n.out, n.log)
	if err != nil {
		return Child{}, err
	}
	n.theirs, n.policy = theirs, policy
	return Child{Outbound: out}, nil
}

func (n *joinNet) Started(pid int, err error) error {
	n.closeTheirs()
	if err == nil && n.policy != nil {
		n.policy.SetApp(pid)
	}
	return err
}

func (n *joinNet) Teardown(context.Context) error {
	n.closeTheirs()
	return nil
}

func (n *joinNet) closeTheirs() {
	if n.theirs != nil {
		n.theirs.Close()
		n.theirs = nil
	}
}
