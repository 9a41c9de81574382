package cni

import (
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

// loopbackPrefixes are a namespace's own loopback.
var loopbackPrefixes = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// prepareOutbound serves host sockets to the process cmd starts: the
// process's end of a socket pair goes to cmd, and the server runs until
// the process closes it (it exits). The caller closes the returned end,
// ours copy of the process's, once the process has started (or failed to).
func prepareOutbound(cmd *exec.Cmd, subnet string, inside []netip.Prefix, hostResolver bool, log Logf) (*Outbound, *os.File, error) {
	return serveOutbound(cmd, subnet, Outbound{Inside: inside, HostResolver: hostResolver}, log)
}

// serveOutbound serves host sockets to the process cmd starts, as
// prepareOutbound: out's Blocked (a container's recorded list, for a
// process that joins it) and the host's addresses and bridges (with
// subnet's) as they are, kept current for as long as it serves.
func serveOutbound(cmd *exec.Cmd, subnet string, out Outbound, log Logf) (*Outbound, *os.File, error) {
	hb, err := procnet.NewHostBlocked(subnet, out.Blocked, log)
	if err != nil {
		return nil, nil, err
	}
	host, theirs, err := procnet.DialSocketPair()
	if err != nil {
		hb.Close()
		return nil, nil, err
	}
	go func() {
		defer hb.Close()
		if err := procnet.ServeSockets(host, hb.Current); err != nil {
			log("outbound: %v", err)
		}
	}()
	cmd.ExtraFiles = append(cmd.ExtraFiles, theirs)
	out.SocketFD = 2 + len(cmd.ExtraFiles) // ExtraFiles[i] is fd 3+i
	out.BlockedGen, out.Blocked = hb.Current()
	return &out, theirs, nil
}

// hostResolver reports whether namespace name resolves with the host's
// resolv.conf (no /etc/netns/<name>/resolv.conf of its own).
func hostResolver(name string) bool {
	rc, _ := ResolvConf(name)
	return rc == filepath.Join(etcDir, "resolv.conf")
}
