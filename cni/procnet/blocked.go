package procnet

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
)

// AlwaysBlocked are never an app's outside: loopback and "this network",
// link-local (169.254.169.254 is a cloud's metadata service), multicast,
// broadcast, and the IPv6 equivalents.
var AlwaysBlocked = []netip.Prefix{
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

// BlockedFromApps returns what no app may reach through host sockets:
// AlwaysBlocked, every address of the host (the broadcast addresses of
// its IPv4 networks too), on Linux every prefix its local routing table
// delivers to the host itself (a whole prefix on lo, `ip route add
// local`, broadcast, IPv6 anycast such as a subnet-router address), and
// the whole subnet of each
// host bridge (apps of ours, and other containers; bridges are known by
// Linux's sysfs, elsewhere only their host addresses are) and of subnet
// (our bridge's, which may not exist yet). It is a snapshot: HostBlocked
// keeps one current on Linux.
func BlockedFromApps(subnet string) ([]netip.Prefix, error) {
	out := append([]netip.Prefix(nil), AlwaysBlocked...)
	if p, err := netip.ParsePrefix(subnet); err == nil {
		out = append(out, p.Masked())
	}
	local, err := localPrefixes()
	if err != nil {
		return nil, fmt.Errorf("list the host's local routes: %w", err)
	}
	out = append(out, local...)
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
			ones, _ := n.Mask.Size()
			if bridge {
				out = append(out, netip.PrefixFrom(ip, ones).Masked())
			}
			if ip.Is4() && ones < 31 {
				// The network's broadcast address is the host's too (a
				// datagram to it is delivered to the host's services),
				// and its first, which older kernels also broadcast to.
				first := netip.PrefixFrom(ip, ones).Masked().Addr()
				b := first.As4()
				v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | (1<<(32-ones) - 1)
				last := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
				out = append(out, netip.PrefixFrom(first, 32), netip.PrefixFrom(last, 32))
			}
		}
	}
	return out, nil
}
