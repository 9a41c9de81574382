package cni

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/wasmrun/wasmrun/cni/procnet"
)

// Outbound traffic of a namespace without a bridge goes through sockets
// that the creating process (in the host's namespace) makes for the
// container process and passes to it, the way a rootless network stack
// hands sockets across: the guest's connection is the kernel's own TCP in
// the host's namespace, at native speed, and nothing (no bridge, NAT or
// rules) is set up at start. The creator makes only unconnected TCP and
// UDP sockets of IPv4 and IPv6 (procnet.ServeSockets). Where they may go is decided in
// the container process, which sees every connect and send of the guest:
// never to an address in Outbound.Blocked (the host itself, other apps),
// and only where the egress policy permits.

// alwaysBlocked are never an app's outside: loopback and "this network",
// link-local (169.254.169.254 is a cloud's metadata service), multicast,
// broadcast, and the IPv6 equivalents.
var alwaysBlocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("255.255.255.255/32"),
	netip.MustParsePrefix("::/128"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("ff00::/8"),
}

// blockedFromApps returns what no app may reach through host sockets:
// alwaysBlocked, every address of the host, and the whole subnet of each
// host bridge (apps of ours, and other containers) and of subnet (our
// bridge's, which may not exist yet). It is a snapshot: an address the
// host gains later is not in it.
func blockedFromApps(subnet string) ([]netip.Prefix, error) {
	out := append([]netip.Prefix(nil), alwaysBlocked...)
	if p, err := netip.ParsePrefix(subnet); err == nil {
		out = append(out, p.Masked())
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list host interfaces: %w", err)
	}
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			return nil, fmt.Errorf("list addresses of %s: %w", ifc.Name, err)
		}
		_, err = os.Stat(filepath.Join("/sys/class/net", ifc.Name, "bridge"))
		bridge := err == nil
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(n.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
			if ones, _ := n.Mask.Size(); bridge {
				out = append(out, netip.PrefixFrom(ip, ones).Masked())
			}
		}
	}
	return out, nil
}

// loopbackPrefixes are a namespace's own loopback.
var loopbackPrefixes = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// prepareOutbound serves host sockets to the process cmd starts: the
// process's end of a socket pair goes to cmd, and the server runs until
// the process closes it (it exits). The caller closes the returned end,
// ours copy of the process's, once the process has started (or failed to).
func prepareOutbound(cmd *exec.Cmd, subnet string, inside []netip.Prefix, hostResolver bool, log Logf) (*Outbound, *os.File, error) {
	blocked, err := blockedFromApps(subnet)
	if err != nil {
		return nil, nil, err
	}
	return serveOutbound(cmd, Outbound{Inside: inside, Blocked: blocked, HostResolver: hostResolver}, log)
}

// serveOutbound serves host sockets to the process cmd starts, within
// out's limits, as prepareOutbound.
func serveOutbound(cmd *exec.Cmd, out Outbound, log Logf) (*Outbound, *os.File, error) {
	host, theirs, err := procnet.DialSocketPair()
	if err != nil {
		return nil, nil, err
	}
	go func() {
		if err := procnet.ServeSockets(host); err != nil {
			log("outbound: %v", err)
		}
	}()
	cmd.ExtraFiles = append(cmd.ExtraFiles, theirs)
	out.SocketFD = 2 + len(cmd.ExtraFiles) // ExtraFiles[i] is fd 3+i
	return &out, theirs, nil
}

// hostResolver reports whether namespace name resolves with the host's
// resolv.conf (no /etc/netns/<name>/resolv.conf of its own).
func hostResolver(name string) bool {
	rc, _ := ResolvConf(name)
	return rc == filepath.Join(etcDir, "resolv.conf")
}
