package cni

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"

	"golang.org/x/sys/unix"

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
// bridge's, which may not exist yet). It is a snapshot: hostBlocked
// keeps one current.
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
	return serveOutbound(cmd, subnet, Outbound{Inside: inside, HostResolver: hostResolver}, log)
}

// serveOutbound serves host sockets to the process cmd starts, as
// prepareOutbound: out's Blocked (a container's recorded list, for a
// process that joins it) and the host's addresses and bridges (with
// subnet's) as they are, kept current for as long as it serves.
func serveOutbound(cmd *exec.Cmd, subnet string, out Outbound, log Logf) (*Outbound, *os.File, error) {
	hb, err := newHostBlocked(subnet, out.Blocked, log)
	if err != nil {
		return nil, nil, err
	}
	host, theirs, err := procnet.DialSocketPair()
	if err != nil {
		hb.close()
		return nil, nil, err
	}
	go func() {
		defer hb.close()
		if err := procnet.ServeSockets(host, hb.current); err != nil {
			log("outbound: %v", err)
		}
	}()
	cmd.ExtraFiles = append(cmd.ExtraFiles, theirs)
	out.SocketFD = 2 + len(cmd.ExtraFiles) // ExtraFiles[i] is fd 3+i
	out.BlockedGen, out.Blocked = hb.current()
	return &out, theirs, nil
}

// hostBlocked keeps an app's block list current: blockedFromApps(subnet)
// plus fixed ones, recomputed when the host's links or addresses have
// changed since. A netlink socket subscribed to their changes tells: it
// is read (never waited on) at each ask, and anything there, or its
// overflow, means a change. Each list has a generation of its own.
type hostBlocked struct {
	subnet string
	fixed  []netip.Prefix
	log    Logf

	mu   sync.Mutex
	nl   int // the netlink socket; -1 once closed
	gen  uint64
	list []netip.Prefix
}

// newHostBlocked subscribes first, then computes the first list, so that
// no change between the two is missed.
func newHostBlocked(subnet string, fixed []netip.Prefix, log Logf) (*hostBlocked, error) {
	nl, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("watch the host's addresses: %w", err)
	}
	groups := uint32(unix.RTMGRP_LINK | unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR)
	if err := unix.Bind(nl, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
		unix.Close(nl)
		return nil, fmt.Errorf("watch the host's addresses: %w", err)
	}
	h := &hostBlocked{subnet: subnet, fixed: fixed, log: log, nl: nl}
	if h.list, err = h.compute(); err != nil {
		unix.Close(nl)
		return nil, err
	}
	h.gen = 1
	return h, nil
}

func (h *hostBlocked) compute() ([]netip.Prefix, error) {
	now, err := blockedFromApps(h.subnet)
	if err != nil {
		return nil, err
	}
	return append(now, h.fixed...), nil
}

// current returns the list and its generation, recomputed first if the
// host changed. A failed recomputation keeps the last list and tries
// again at the next ask.
func (h *hostBlocked) current() (uint64, []netip.Prefix) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.nl >= 0 && h.changed() {
		list, err := h.compute()
		if err != nil {
			h.log("outbound: list the host's addresses: %v", err)
			return h.gen, h.list
		}
		if !slices.Equal(list, h.list) {
			h.gen++
			h.list = list
		}
	}
	return h.gen, h.list
}

// changed drains the netlink socket and reports whether anything was
// there (a change, or an overflow of them).
func (h *hostBlocked) changed() bool {
	var buf [8192]byte
	changed := false
	for {
		_, _, err := unix.Recvfrom(h.nl, buf[:], 0)
		switch {
		case err == nil || err == unix.ENOBUFS:
			changed = true
		case err == unix.EINTR:
		default: // EAGAIN: drained
			return changed
		}
	}
}

func (h *hostBlocked) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.nl >= 0 {
		unix.Close(h.nl)
		h.nl = -1
	}
}

// hostResolver reports whether namespace name resolves with the host's
// resolv.conf (no /etc/netns/<name>/resolv.conf of its own).
func hostResolver(name string) bool {
	rc, _ := ResolvConf(name)
	return rc == filepath.Join(etcDir, "resolv.conf")
}
