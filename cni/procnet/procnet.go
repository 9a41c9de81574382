// Package procnet is a container's network as its container process sees
// it: what the process sets up itself in its namespace before the guest
// runs (Child.Setup), and both ends of the two socket-passing protocols it
// speaks with its creator: dial passing, which connects a userspace
// forward from inside the namespace (ServeDial, FDDialer), and host
// sockets, which take the guest's outbound traffic out of it
// (ServeSockets, Sockets). The container process imports this package
// and not cni, so it carries no CNI library.
package procnet

import (
	"net"
	"net/netip"
)

// Child is the part of a network the container process sets up itself,
// in its namespace, before the guest runs (Child.Setup). It travels in
// the process's configuration.
type Child struct {
	// Loopback: bring lo up (a rootless process owns its namespace).
	Loopback bool `json:"loopback,omitempty"`
	// DialFD answers the userspace forwarder's dial requests (0 = none).
	DialFD int `json:"dial_fd,omitempty"`
	// Outbound, when set, is how the process reaches the outside.
	Outbound *Outbound `json:"outbound,omitempty"`
	// Simulated, when set: no namespace, a port space of the guest's own
	// (see Simulated).
	Simulated *Simulated `json:"simulated,omitempty"`
	// Dial, when set, makes the connections ServeDial is asked for
	// (simulated isolation: to the guest's own ports), instead of
	// net.Dial. The process sets it.
	Dial func(network, address string) (net.Conn, error) `json:"-"`
}

// Outbound is the container process's side of outbound traffic, in its
// configuration.
type Outbound struct {
	// SocketFD is the socket pair end to ask for host sockets on.
	SocketFD int `json:"socket_fd"`
	// Inside are the addresses the namespace reaches itself (lo and its
	// own addresses): traffic to them stays in the namespace.
	Inside []netip.Prefix `json:"inside"`
	// Blocked are never reached from an app unless an allow entry of the
	// egress policy names them: the host's own addresses, the subnets of
	// its bridges (other apps), loopback, link-local (cloud metadata),
	// multicast and broadcast.
	Blocked []netip.Prefix `json:"blocked"`
	// BlockedGen is the generation of Blocked at the creator (see
	// ServeSockets), which sends a newer list with a socket.
	BlockedGen uint64 `json:"blocked_gen,omitempty"`
	// HostResolver: the resolv.conf is the host's, so name queries go
	// through host sockets too (a 127.0.0.53 stub is the host's).
	HostResolver bool `json:"host_resolver,omitempty"`
	// Allow, Deny and Nameservers are what opens a Blocked address to a
	// host socket besides (see Policy): the egress policy's prefixes,
	// and with HostResolver the resolver's nameservers (at port 53). The
	// creator holds its sockets to them, not to what the process says.
	Allow       []netip.Prefix `json:"allow,omitempty"`
	Deny        []netip.Prefix `json:"deny,omitempty"`
	Nameservers []netip.Addr   `json:"nameservers,omitempty"`
	// NameGrants: the egress policy also allows host names (see
	// Policy.NameGrants).
	NameGrants bool `json:"name_grants,omitempty"`
	// Owner, when set, owns the host sockets (see Policy.Owner).
	Owner *Owner `json:"owner,omitempty"`
}

// Owner is the user and group host sockets are made as: the app's, so
// that the host's firewall rules that match a socket's owner (iptables
// -m owner) and its accounting see the app's user, not the creator's.
type Owner struct {
	UID uint32 `json:"uid"`
	GID uint32 `json:"gid"`
}
