package cni

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/wasmrun/wasmrun/cni/procnet"
)

// Outbound traffic of a namespace without a bridge goes through sockets
// that the creating process (in the host's namespace) makes for the
// container process and passes to it, the way a rootless network stack
// hands sockets across: the guest's connection is the kernel's own TCP in
// the host's namespace, at native speed, and nothing (no bridge, NAT or
// rules) is set up at start. The creator makes only TCP and UDP sockets
// of IPv4 and IPv6 (procnet.ServeSockets): a TCP one connecting to a
// destination it checked itself against Outbound.Blocked (the host
// itself, other apps) and held to it, so that a container process taken
// over by its guest reaches no more than the guest may; for UDP a relay
// whose every datagram the creator checks the same way. The container
// process, which sees every connect and send of the guest, checks the
// same and the egress policy first.

// loopbackPrefixes are a namespace's own loopback.
var loopbackPrefixes = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// prepareOutbound serves host sockets to the process cmd starts: the
// process's end of a socket pair goes to cmd, and the server runs until
// the process closes it (it exits). The caller closes the returned end,
// ours copy of the process's, once the process has started (or failed to),
// and names the process to the returned Policy (SetApp).
// resolvConf, when not "", is the resolver's file whose nameservers the
// process may reach at port 53 through host sockets (the host's
// resolver); opts' egress prefixes may open blocked addresses too.
func prepareOutbound(cmd *exec.Cmd, subnet string, inside []netip.Prefix, resolvConf string, opts Options, log Logf) (*Outbound, *os.File, *procnet.Policy, error) {
	out := Outbound{Inside: inside, HostResolver: resolvConf != "", Allow: opts.Allow, Deny: opts.Deny, NameGrants: opts.NameGrants, Owner: opts.SocketOwner}
	if resolvConf != "" {
		out.Nameservers = nameservers(resolvConf)
	}
	return serveOutbound(cmd, subnet, out, log)
}

// serveOutbound serves host sockets to the process cmd starts, as
// prepareOutbound: out's Blocked (a container's recorded list, for a
// process that joins it) and the host's addresses and bridges (with
// subnet's) as they are, kept current for as long as it serves, opened
// only by out's Allow, Deny and Nameservers.
func serveOutbound(cmd *exec.Cmd, subnet string, out Outbound, log Logf) (*Outbound, *os.File, *procnet.Policy, error) {
	hb, err := procnet.NewHostBlocked(subnet, out.Blocked, log)
	if err != nil {
		return nil, nil, nil, err
	}
	host, theirs, err := procnet.DialSocketPair()
	if err != nil {
		hb.Close()
		return nil, nil, nil, err
	}
	policy := &procnet.Policy{Blocked: hb.Current, Allow: out.Allow, Deny: out.Deny, NameGrants: out.NameGrants, Owner: out.Owner, Nameservers: out.Nameservers, Log: log}
	go func() {
		defer hb.Close()
		if err := procnet.ServeSockets(host, policy); err != nil {
			log("outbound: %v", err)
		}
	}()
	cmd.ExtraFiles = append(cmd.ExtraFiles, theirs)
	out.SocketFD = 2 + len(cmd.ExtraFiles) // ExtraFiles[i] is fd 3+i
	out.BlockedGen, out.Blocked = hb.Current()
	return &out, theirs, policy, nil
}

// nameservers are the nameserver addresses of resolv.conf file path (none
// when it cannot be read).
func nameservers(path string) []netip.Addr {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(f[1]); err == nil {
				out = append(out, a.WithZone(""))
			}
		}
	}
	return out
}

// hostResolverConf is the resolv.conf through which a process of
// namespace name resolves with the host's resolver: opts' own, else the
// host's when the namespace has no /etc/netns/<name>/resolv.conf of its
// own; "" when it does (its queries then go where the guest's traffic
// would).
func hostResolverConf(name string, opts Options) string {
	if opts.ResolvConf != "" {
		return opts.ResolvConf
	}
	if rc, _ := ResolvConf(name); rc == filepath.Join(etcDir, "resolv.conf") {
		return rc
	}
	return ""
}
