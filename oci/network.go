package oci

import (
	"net"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/wasmrun/wasmrun/cni"
	"github.com/wasmrun/wasmrun/cni/procnet"
	"github.com/wasmrun/wasmrun/wasi"
)

// The network of a container is one cni.Network, chosen by cni.Plan from
// the spec and the front end's configuration value; oci only drives it.
// These aliases are that value and what comes back, so front ends build
// and read it without importing the network package.
type (
	// NetworkConfig is where namespaces, CNI state and plugins are, and
	// the bridge's shape: one per front end.
	NetworkConfig = cni.Config
	// BridgeConfig shapes the CNI bridge network.
	BridgeConfig = cni.BridgeConfig
	// NetworkOpts are one container's network choices.
	NetworkOpts = cni.Options
	// NetworkMode is the mode Plan chose, recorded in the state.
	NetworkMode = cni.NetworkMode
	// NetworkRecord is the recorded network of a container.
	NetworkRecord = cni.Record
	// Forward is a host port forwarded into a container's namespace.
	Forward = cni.Forward
	// ForwardError is a forward refused as written (ParseForward).
	ForwardError = cni.ForwardError
	// PortInUseError is a forward whose host port is taken (Create).
	PortInUseError = cni.PortInUseError
	// PluginNotFoundError is a CNI plugin in no plugin directory (Create).
	PluginNotFoundError = cni.PluginNotFoundError
)

// The network modes (see cni.NetworkMode).
const (
	NetHost         = cni.NetHost
	NetJoin         = cni.NetJoin
	NetOwn          = cni.NetOwn
	NetOwnUserspace = cni.NetOwnUserspace
	NetRootless     = cni.NetRootless
	NetSimulated    = cni.NetSimulated
)

// DefaultPrefix names the namespaces of a default NetworkConfig.
const DefaultPrefix = cni.DefaultPrefix

// ErrUserNamespaces marks a Create without root that failed because this
// system does not let an unprivileged user create a user namespace.
var ErrUserNamespaces = cni.ErrUserNamespaces

// ParseForward parses [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp].
func ParseForward(s string) (Forward, error) { return cni.ParseForward(s) }

// Rootless reports whether this process lacks root: a new namespace is
// then a rootless one (user + network namespace, userspace forwards).
func Rootless() bool { return cni.Rootless() }

// UserNamespacesAllowed reports whether an unprivileged user may create a
// user namespace here, and when not, which setting forbids it.
func UserNamespacesAllowed() (bool, string) { return cni.UserNamespacesAllowed() }

// networkTarget is where the spec puts container id's network.
func networkTarget(id string, s *specs.Spec) cni.Target {
	if s.Linux != nil {
		for _, ns := range s.Linux.Namespaces {
			if ns.Type == specs.NetworkNamespace {
				return cni.Target{ID: id, Join: ns.Path}
			}
		}
	}
	return cni.Target{ID: id, Host: true}
}

// VirtualPort is one port of a simulated app: its guest port and the host
// socket that holds it.
type VirtualPort = procnet.Port

// Egress is the host-side policy on where a guest may connect and send.
type Egress = wasi.Egress

// Forwarder relays host ports to an app's ports in userspace
// (cni.Forwarder).
type Forwarder = cni.Forwarder

// StartForwarder listens on the host for each of fwds and relays every TCP
// connection and UDP client to the app's port through dial, which reaches
// the app without a namespace (an in-process app's port table). log gets
// one line per listener and per failed connection.
func StartForwarder(fwds []Forward, dial func(network, addr string) (net.Conn, error), log func(format string, args ...any)) (*Forwarder, error) {
	return cni.StartForwarder("", fwds, cni.ForwarderOptions{Dial: dial, Log: log})
}
