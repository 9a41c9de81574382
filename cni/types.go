package cni

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Mode is how a container gets its network.
type Mode int

const (
	// ModeHost shares the host's network namespace: nothing is created,
	// nothing is torn down.
	ModeHost Mode = iota
	// ModeJoin joins an existing namespace given by path (a CRI pod's
	// /proc/<pid>/ns/net, a /run/netns file). Someone else owns it; teardown
	// does nothing to it.
	ModeJoin
	// ModeNew creates a named namespace <prefix>-<id> under the netns dir
	// with loopback up, optionally attaches a CNI bridge network and
	// portmap forwards, and deletes all of it at teardown.
	ModeNew
)

// String returns "host", "join" or "new".
func (m Mode) String() string {
	switch m {
	case ModeHost:
		return "host"
	case ModeJoin:
		return "join"
	case ModeNew:
		return "new"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// Forward is one host port forwarded into the namespace.
type Forward struct {
	// HostIP is the host address to forward from; "" means every address
	// (portmap) or 0.0.0.0 (userspace forwarder).
	HostIP string `json:"hostIP,omitempty"`
	// HostPort is the host port. The userspace forwarder accepts 0 (pick
	// a free port, see Forwarder.Addrs); portmap does not.
	HostPort uint16 `json:"hostPort"`
	// GuestPort is the port inside the namespace.
	GuestPort uint16 `json:"guestPort"`
	// Protocol is "tcp" or "udp"; "" means "tcp".
	Protocol string `json:"protocol,omitempty"`
}

// Proto returns the protocol with the default applied ("tcp" or "udp").
func (f Forward) Proto() string {
	if f.Protocol == "" {
		return "tcp"
	}
	return f.Protocol
}

// String formats f as [HOSTIP:]HOSTPORT:GUESTPORT/PROTO, the syntax
// ParseForward reads.
func (f Forward) String() string {
	s := fmt.Sprintf("%d:%d/%s", f.HostPort, f.GuestPort, f.Proto())
	if f.HostIP != "" {
		h := f.HostIP
		if strings.Contains(h, ":") {
			h = "[" + h + "]"
		}
		s = h + ":" + s
	}
	return s
}

// Validate checks the protocol, ports and host address. The error is a
// *ForwardError.
func (f Forward) Validate() error {
	if r := f.problem(); r != "" {
		return &ForwardError{Forward: f.String(), Reason: r}
	}
	return nil
}

// problem says what is wrong with f, or "".
func (f Forward) problem() string {
	if p := f.Proto(); p != "tcp" && p != "udp" {
		return fmt.Sprintf("protocol %q: want tcp or udp", f.Protocol)
	}
	if f.GuestPort == 0 {
		return "guest port 0 is not a port (1-65535)"
	}
	if f.HostIP != "" {
		if _, err := netip.ParseAddr(f.HostIP); err != nil {
			return fmt.Sprintf("host address %q is not an IP address", f.HostIP)
		}
	}
	return ""
}

// ForwardError is a forward that ParseForward or Validate refuses: Forward
// is the text given (ParseForward) or the forward (Validate), Reason what
// is wrong with it, for a front end to name the way the user gave it.
type ForwardError struct {
	Forward string
	Reason  string
}

func (e *ForwardError) Error() string { return "forward " + e.Forward + ": " + e.Reason }

// ValidateForwards checks every forward and that no two of them claim the
// same host port: same protocol and port on the same host address, or
// where either is every address ("", 0.0.0.0 or ::).
func ValidateForwards(fwds []Forward) error {
	for i, f := range fwds {
		if err := f.Validate(); err != nil {
			return err
		}
		for _, g := range fwds[:i] {
			if f.HostPort != 0 && f.HostPort == g.HostPort && f.Proto() == g.Proto() && hostsOverlap(f.HostIP, g.HostIP) {
				return fmt.Errorf("forwards %s and %s both claim host port %d/%s", g, f, f.HostPort, f.Proto())
			}
		}
	}
	return nil
}

// hostsOverlap reports whether two forward host addresses can take the
// same socket address: "" is every address, [::] takes IPv4 too
// (dual-stack), 0.0.0.0 every IPv4 address.
func hostsOverlap(a, b string) bool {
	pa, errA := netip.ParseAddr(a)
	pb, errB := netip.ParseAddr(b)
	if errA != nil || errB != nil {
		return true
	}
	pa, pb = pa.Unmap(), pb.Unmap()
	switch {
	case pa == netip.IPv6Unspecified() || pb == netip.IPv6Unspecified():
		return true
	case pa.IsUnspecified() || pb.IsUnspecified():
		return pa.Is4() == pb.Is4()
	}
	return pa == pb
}

// IPv6Host reports whether the forward listens on an IPv6 host address
// ([::1], [::], ...), which portmap cannot send into an IPv4 namespace.
func (f Forward) IPv6Host() bool {
	a, err := netip.ParseAddr(f.HostIP)
	return err == nil && a.Is6() && !a.Is4In6()
}

// ParseForward parses [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp], e.g.
// "8080:3000", "127.0.0.1:8080:3000/tcp", "[::1]:5353:53/udp".
func ParseForward(s string) (Forward, error) {
	var f Forward
	fail := func(reason string) (Forward, error) { return Forward{}, &ForwardError{Forward: s, Reason: reason} }
	rest := s
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		f.Protocol = strings.ToLower(rest[i+1:])
		rest = rest[:i]
	}
	var host string
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]:")
		if end < 0 {
			return fail("unterminated [HOSTIP]")
		}
		host, rest = rest[1:end], rest[end+2:]
	}
	parts := strings.Split(rest, ":")
	switch {
	case len(parts) == 3 && host == "":
		host, parts = parts[0], parts[1:]
	case len(parts) != 2:
		return fail("want [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]")
	}
	hp, err := strconv.ParseUint(parts[0], 10, 16)
	if err != nil {
		return fail("host port " + portText(parts[0]) + " is not a port (1-65535)")
	}
	gp, err := strconv.ParseUint(parts[1], 10, 16)
	if err != nil {
		return fail("guest port " + portText(parts[1]) + " is not a port (1-65535)")
	}
	if a, err := netip.ParseAddr(host); err == nil && a.Is4In6() {
		host = a.Unmap().String() // one spelling per address: portmap takes IPv4 as such
	}
	f.HostIP, f.HostPort, f.GuestPort = host, uint16(hp), uint16(gp)
	if r := f.problem(); r != "" {
		return fail(r)
	}
	return f, nil
}

// portText is a port as written, quoted unless it is a number.
func portText(s string) string {
	if s != "" && strings.Trim(s, "0123456789") == "" {
		return s
	}
	return strconv.Quote(s)
}

// Logf receives one line per step ("created namespace ...", "lo up",
// "portmap ...", "deleted ..."). It must be safe for concurrent use.
type Logf func(format string, args ...any)

// Defaults used when the corresponding Config field is empty.
const (
	DefaultPrefix      = "wasmrun"
	DefaultNetnsDir    = "/run/netns"
	DefaultStateDir    = "/run/wasmrun/netns"
	DefaultCacheDir    = "/run/wasmrun/cni-cache"
	DefaultIPAMDataDir = "/run/wasmrun/ipam"
	DefaultNetwork     = "wasmrun"
	DefaultBridge      = "wasmrun0"
	DefaultSubnet      = "10.231.0.0/16"
	DefaultIfName      = "eth0"
	// CNIVersion is the cniVersion of the configurations we generate
	// (Debian's plugins 1.1.1 support up to 1.0.0).
	CNIVersion = "1.0.0"
)

// DefaultFallbackPluginDirs are searched for CNI plugins after
// Config.PluginDirs.
var DefaultFallbackPluginDirs = []string{"/opt/cni/bin", "/usr/lib/cni"}

// Config configures a Manager. The zero value is usable (all defaults).
type Config struct {
	// Prefix names the namespaces we create: <Prefix>-<id>. Default "wasmrun".
	Prefix string
	// NetnsDir holds the namespace bind mounts. Default /run/netns (what
	// `ip netns` lists).
	NetnsDir string
	// StateDir holds one <name>.json per namespace we created (and the
	// .lock that serializes claims). Default /run/wasmrun/netns. Every
	// Manager with the same Prefix and NetnsDir must use the same StateDir:
	// GC takes a namespace of its prefix without state (and with no
	// process inside) for a leftover.
	StateDir string
	// CacheDir is libcni's result cache. Default /run/wasmrun/cni-cache.
	CacheDir string
	// PluginDirs are searched first for CNI plugin binaries.
	PluginDirs []string
	// FallbackPluginDirs are searched after PluginDirs. nil means
	// DefaultFallbackPluginDirs; an empty non-nil slice means none.
	FallbackPluginDirs []string
	// Bridge configures the CNI bridge network (used when a Request asks
	// for Bridge or has Forwards).
	Bridge BridgeConfig
	// Log, if set, receives every step. nil logs nothing.
	Log Logf
}

// BridgeConfig configures the generated CNI network list:
// bridge (host-local IPAM) + portmap (only when there are forwards).
type BridgeConfig struct {
	// Network is the CNI network name. Default "wasmrun".
	Network string
	// Name is the bridge device on the host. Default "wasmrun0".
	Name string
	// Subnet is the host-local range. Default 10.231.0.0/16.
	Subnet string
	// IfName is the interface inside the namespace. Default "eth0".
	IfName string
	// IPAMDataDir is host-local's dataDir (leases). Default /run/wasmrun/ipam.
	// Every Manager using the same bridge and subnet must use the same
	// IPAMDataDir and Network, or two namespaces get the same address.
	IPAMDataDir string
	// NoMasquerade turns off the bridge plugin's ipMasq (outbound NAT)
	// even for Request.Bridge.
	NoMasquerade bool
}

// Request asks Manager.Setup for a network.
type Request struct {
	// Mode picks host, join or new.
	Mode Mode
	// Path is the namespace to join (ModeJoin).
	Path string
	// ID is the container id (ModeNew); the namespace is <prefix>-<ID>.
	// Letters, digits, '_', '-' and '.' only.
	ID string
	// Bridge attaches the CNI bridge network for outbound traffic
	// (ModeNew), with outbound NAT (the bridge plugin's ipMasq) unless
	// BridgeConfig.NoMasquerade. Forwards imply the bridge network too,
	// but without Bridge there is no outbound NAT: the namespace is
	// reachable through its forwards and can reach the host's bridge
	// address, not the outside.
	Bridge bool
	// Forwards are host ports forwarded with portmap (ModeNew).
	Forwards []Forward
	// NoLoopback leaves lo down in a new namespace (ModeNew): the guest
	// then has no network at all unless Bridge or Forwards add one.
	NoLoopback bool
	// OwnerPID is the process responsible for teardown, recorded in the
	// state so GC can tell a crashed run. 0 means this process.
	OwnerPID int
}

// Namespace is a network set up by Manager.Setup or reopened by
// Manager.Open. Its exported fields are read-only.
type Namespace struct {
	// Mode is the mode it was set up with.
	Mode Mode
	// ID is the container id (ModeNew).
	ID string
	// Name is <prefix>-<id> (ModeNew), "" otherwise.
	Name string
	// Path is the namespace file to setns into ("" for ModeHost).
	Path string
	// IfName is the CNI interface inside ("" without bridge).
	IfName string
	// Addrs are the CNI addresses of IfName (empty without bridge).
	Addrs []netip.Prefix
	// Gateway is the bridge address (invalid without bridge).
	Gateway netip.Addr
	// Bridge is the host bridge device ("" without bridge).
	Bridge string
	// Forwards are the portmap forwards in place.
	Forwards []Forward
	// OwnerPID is the process recorded as responsible for the namespace
	// (ModeNew; see Request.OwnerPID and SetOwner).
	OwnerPID int

	m *Manager
}

// ErrNotFound is returned (wrapped) by Manager.Open when no state exists
// for the id.
var ErrNotFound = errors.New("namespace state not found")

// ErrPortInUse is wrapped by the error for a host port that is taken.
var ErrPortInUse = errors.New("port in use")

// PortInUseError is the error for a host port that is already taken. It
// matches ErrPortInUse with errors.Is.
type PortInUseError struct {
	Forward Forward
	// By names the namespace of ours that forwards the port, if any.
	By string
}

func (e *PortInUseError) Error() string {
	s := fmt.Sprintf("port %d/%s on the host is already in use", e.Forward.HostPort, e.Forward.Proto())
	if e.By != "" {
		s += " (forwarded to namespace " + e.By + ")"
	}
	return s
}

// Is makes errors.Is(err, ErrPortInUse) true.
func (e *PortInUseError) Is(target error) bool { return target == ErrPortInUse }

// PluginNotFoundError is a CNI plugin that is in none of the plugin
// directories. A front end adds how its user names them.
type PluginNotFoundError struct {
	Plugin string
	// Path are the directories searched, in order.
	Path []string
}

func (e *PluginNotFoundError) Error() string {
	if len(e.Path) == 0 {
		return fmt.Sprintf("CNI plugin %q not found: no plugin directory is configured", e.Plugin)
	}
	return fmt.Sprintf("CNI plugin %q not found in %s (install containernetworking-plugins)", e.Plugin, strings.Join(e.Path, ", "))
}
