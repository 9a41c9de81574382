package cni

import (
	"context"
	"errors"
	"net/netip"
	"os/exec"

	"github.com/wasmrun/wasmrun/cni/procnet"
)

// Mode (of a Network) is how Plan gives a container its network. It is
// recorded with the container's state, so its values never change.
type NetworkMode string

const (
	// NetHost is the host's network: nothing is created or removed.
	NetHost NetworkMode = "host"
	// NetJoin joins a namespace someone else owns (a CRI pod's).
	NetJoin NetworkMode = "join"
	// NetOwn is a named namespace <prefix>-<id> of ours, forwarded into
	// by CNI portmap (IPv4 host addresses) and the userspace forwarder
	// (IPv6 ones), or with loopback only.
	NetOwn NetworkMode = "own"
	// NetOwnUserspace is a named namespace of ours whose forwards all go
	// through the userspace forwarder (no CNI plugins installed).
	NetOwnUserspace NetworkMode = "own-userspace"
	// NetRootless is a user + network namespace made with the container
	// process by a user without root; forwards go through the userspace
	// forwarder, which asks the process to dial inside.
	NetRootless NetworkMode = "rootless"
	// NetSimulated is no namespace: the app's sockets are the host's, with
	// a port space of its own on the host's loopback, kept by its container
	// process (simulated isolation, for systems without namespaces and on
	// Linux when asked for); forwards go through the userspace forwarder,
	// which asks the process to dial its port.
	NetSimulated NetworkMode = "simulated"
)

// Describe says in words what the mode gives (for --verbose and ps).
func (m NetworkMode) Describe() string {
	switch m {
	case NetHost:
		return "host (the host's network, no isolation)"
	case NetJoin:
		return "join (an existing namespace owned by someone else)"
	case NetOwn:
		return "own namespace (CNI bridge and portmap for forwards)"
	case NetOwnUserspace:
		return "own namespace (userspace forwarder: CNI plugins not installed)"
	case NetRootless:
		return "rootless (user + network namespace, userspace forwarder)"
	case NetSimulated:
		return "simulated (no namespace: a port space of its own on the host's loopback, userspace forwarder)"
	}
	return string(m)
}

// Options are one container's network choices. They shape a namespace
// the container gets of its own and are refused (forwards) or ignored
// (the rest) for the host network and a joined namespace.
type Options struct {
	// Outbound lets the app open connections to the outside (not to the
	// host itself or other apps) and resolve names with the host's
	// resolver. Without Bridge this costs nothing at start: the
	// connections are made with host sockets handed to the container
	// process (see Outbound).
	Outbound bool `json:"outbound,omitempty"`
	// Bridge attaches a CNI bridge network with outbound NAT.
	Bridge bool `json:"bridge,omitempty"`
	// Forwards are host ports forwarded in.
	Forwards []Forward `json:"forwards,omitempty"`
	// NoLoopback leaves the namespace's lo down.
	NoLoopback bool `json:"no_loopback,omitempty"`
	// ResolvConf and Hosts, when set, are the guest's resolver files
	// instead of the namespace's (see ResolvConf). They are the front
	// end's, written for the host: the nameservers are reached as the
	// host's are (with Outbound, through host sockets).
	ResolvConf string `json:"resolv_conf,omitempty"`
	Hosts      string `json:"hosts,omitempty"`
	// Simulated asks for simulated isolation (NetSimulated) instead of a
	// namespace.
	Simulated bool `json:"simulated,omitempty"`
	// Allow and Deny are the egress policy's address prefixes: an allow
	// prefix opens a blocked address (the host's, another app's) as
	// wasi's Outside does, and the process that makes host sockets holds
	// them to that (procnet.Policy). The front end's Egress is what the
	// guest is checked against; oci copies its prefixes here.
	Allow []netip.Prefix `json:"allow,omitempty"`
	Deny  []netip.Prefix `json:"deny,omitempty"`
	// NameGrants: the egress policy has allow entries that are host
	// names, whose addresses the guest is granted at resolution.
	NameGrants bool `json:"name_grants,omitempty"`
	// SocketOwner, when set, is the user and group the host sockets of
	// outbound traffic are made as (root making them for an app of
	// another user).
	SocketOwner *procnet.Owner `json:"socket_owner,omitempty"`
}

// Resolver returns the resolv.conf and hosts files of a guest in the
// namespace at path: o's own, else the namespace's (ResolvConf).
func (o Options) Resolver(path string) (resolvConf, hosts string) {
	resolvConf, hosts = ResolvConf(netnsName(path))
	if o.ResolvConf != "" {
		resolvConf = o.ResolvConf
	}
	if o.Hosts != "" {
		hosts = o.Hosts
	}
	return resolvConf, hosts
}

// Target is where a container's spec puts it: the host network, an
// existing namespace, or (neither) a new one of its own.
type Target struct {
	// ID names a new namespace: <prefix>-<ID>.
	ID string
	// Host: the spec has no network namespace.
	Host bool
	// Join is the path of the namespace to join.
	Join string
}

// Record is what a process that did not create a Network needs to remove
// it (Release): the container runtime saves it with the container.
type Record struct {
	Mode NetworkMode `json:"mode"`
	// Path is the namespace the container process lives in ("" = the
	// host's).
	Path string `json:"path,omitempty"`
	// Name is the name of a namespace of ours under the netns dir, which
	// Release tears down.
	Name string `json:"name,omitempty"`
	// Outbound is how the container process reaches the outside through
	// host sockets (its descriptor aside), when it does: what a process
	// that joins it gets too (Join).
	Outbound *Outbound `json:"outbound,omitempty"`
	// Ports is where a simulated app's port table is read (ReadPorts).
	Ports string `json:"ports,omitempty"`
}

// Child and Outbound are the container process's side of a network, in
// its configuration (package procnet).
type (
	Child    = procnet.Child
	Outbound = procnet.Outbound
)

// Network is a container's network, chosen once by Plan. The container
// runtime drives every mode through these calls alone:
//
//	n, err := Plan(cfg, target, opts)   // decides; changes nothing
//	child, err := n.Prepare(ctx, cmd)   // namespace, forwards; shapes cmd
//	err = startIn(n.Path(), cmd)        // the process starts in Path()
//	err = n.Started(pid, err)           // (err: the start's own error)
//	... n.Record() saved with the container ...
//	n.Exited()                          // the process is gone
//	n.Teardown(ctx)                     // idempotent; or Release(cfg, record)
type Network interface {
	// Mode is what Plan chose.
	Mode() NetworkMode
	// Prepare creates what the container process needs before it starts
	// (namespace, lo, CNI ADD and rules, forwarder listeners: a taken
	// host port fails here) and shapes cmd (user namespace clone flags,
	// inherited sockets). cmd.SysProcAttr must be set. What the process
	// does itself is returned. On error, Teardown removes what was made.
	Prepare(ctx context.Context, cmd *exec.Cmd) (Child, error)
	// Path is the namespace to start the process in ("" = the creator's
	// own, also for rootless: the clone makes the namespace).
	Path() string
	// Started is told the outcome of starting the process: it releases
	// what the process inherited, and explains a start error that the
	// mode caused.
	Started(pid int, startErr error) error
	// Exited is told the process has exited: forwarders stop, so their
	// host ports are free at once (the namespace stays for Teardown).
	Exited()
	// Record is what Release needs to remove the network later.
	Record() Record
	// Teardown stops forwarders and removes what Prepare made; a second
	// call does nothing. It ignores ctx's cancellation (an interrupted
	// CNI DEL would leak rules and leases).
	Teardown(ctx context.Context) error
}

// ErrUserNamespaces marks a rootless network that this system does not let
// an unprivileged user have (no unprivileged user namespaces).
var ErrUserNamespaces = errors.New("unprivileged user namespaces are not available")
