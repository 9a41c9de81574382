package cni

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	types100 "github.com/containernetworking/cni/pkg/types/100"
)

func checkBridgeConfig(b *BridgeConfig) error {
	if err := checkSubnet(b.Subnet); err != nil {
		return err
	}
	if len(b.Name) > 15 || !validName.MatchString(b.Name) {
		return fmt.Errorf("check bridge name %q: at most 15 letters, digits, '_', '-', '.'", b.Name)
	}
	if len(b.IfName) > 15 || !validName.MatchString(b.IfName) {
		return fmt.Errorf("check interface name %q: at most 15 letters, digits, '_', '-', '.'", b.IfName)
	}
	if !validName.MatchString(b.Network) {
		return fmt.Errorf("check network name %q: letters, digits, '_', '-', '.' only", b.Network)
	}
	return nil
}

// privateRanges are the unicast ranges a bridge subnet may come from: RFC
// 1918 and IPv6 unique local addresses.
var privateRanges = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("fc00::/7"),
}

// checkSubnet accepts a network in CIDR form inside a private unicast range
// with room for the gateway and at least one namespace: never loopback,
// link-local, multicast or public addresses.
func checkSubnet(s string) error {
	p, err := netip.ParsePrefix(s)
	if err != nil || p != p.Masked() || p.Addr().Zone() != "" {
		return fmt.Errorf("check bridge subnet %q: want a network in CIDR form, e.g. %s", s, DefaultSubnet)
	}
	maxBits := 30
	if p.Addr().Is6() {
		maxBits = 126
	}
	for _, r := range privateRanges {
		if r.Contains(p.Addr()) && p.Bits() >= r.Bits() {
			if p.Bits() > maxBits {
				return fmt.Errorf("check bridge subnet %s: too small, at most /%d", p, maxBits)
			}
			return nil
		}
	}
	return fmt.Errorf("check bridge subnet %s: must be a private range (inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or fc00::/7)", p)
}

// netConfList builds the network list for ADD: bridge with host-local
// IPAM (ipMasq when masq: outbound NAT), plus portmap (snat on, so
// 127.0.0.1:HOSTPORT works) when there are forwards.
func (m *Manager) netConfList(withPortmap, masq bool) ([]byte, error) {
	b := m.cfg.Bridge
	plugins := []map[string]any{{
		"type":        "bridge",
		"bridge":      b.Name,
		"isGateway":   true,
		"ipMasq":      masq,
		"hairpinMode": true,
		"ipam": map[string]any{
			"type":    "host-local",
			"ranges":  [][]map[string]string{{{"subnet": b.Subnet}}},
			"routes":  []map[string]string{{"dst": defaultRoute(b.Subnet)}},
			"dataDir": b.IPAMDataDir,
		},
	}}
	if withPortmap {
		plugins = append(plugins, map[string]any{
			"type":         "portmap",
			"capabilities": map[string]bool{"portMappings": true},
			"snat":         true,
		})
	}
	return json.Marshal(map[string]any{
		"cniVersion": CNIVersion,
		"name":       b.Network,
		"plugins":    plugins,
	})
}

func defaultRoute(subnet string) string {
	if p, err := netip.ParsePrefix(subnet); err == nil && p.Addr().Is6() {
		return "::/0"
	}
	return "0.0.0.0/0"
}

func (st *state) libcniArgs() (*libcni.CNIConfig, *libcni.NetworkConfigList, *libcni.RuntimeConf, error) {
	list, err := libcni.NetworkConfFromBytes(st.NetConfList)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("parse network list: %w", err)
	}
	rc := &libcni.RuntimeConf{
		ContainerID: st.RuntimeConf.ContainerID,
		NetNS:       st.RuntimeConf.NetNS,
		IfName:      st.RuntimeConf.IfName,
	}
	if len(st.RuntimeConf.PortMappings) > 0 {
		rc.CapabilityArgs = map[string]any{"portMappings": st.RuntimeConf.PortMappings}
	}
	return libcni.NewCNIConfigWithCacheDir(st.PluginPath, st.CacheDir, nil), list, rc, nil
}

// findPlugins checks every plugin of the list is in path, so a missing one
// is one clear error before anything runs.
func findPlugins(list []byte, path []string) error {
	var l struct {
		Plugins []struct {
			Type string `json:"type"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(list, &l); err != nil {
		return fmt.Errorf("parse network list: %w", err)
	}
	for _, p := range l.Plugins {
		if _, err := invoke.FindInPath(p.Type, path); err != nil {
			return &PluginNotFoundError{Plugin: p.Type, Path: slices.Clone(path)}
		}
	}
	return nil
}

// cniAdd runs ADD with the list and runtime conf saved in st and fills in
// the result fields.
func (m *Manager) cniAdd(ctx context.Context, st *state) error {
	cc, list, rc, err := st.libcniArgs()
	if err != nil {
		return err
	}
	t0 := time.Now()
	res, err := cc.AddNetworkList(ctx, list, rc)
	if err != nil {
		return fmt.Errorf("add CNI network %s to %s: %w", list.Name, st.Name, err)
	}
	r, err := types100.NewResultFromResult(res)
	if err != nil {
		return fmt.Errorf("read CNI result: %w", err)
	}
	st.IfName, st.Bridge = rc.IfName, m.cfg.Bridge.Name
	for _, ifc := range r.Interfaces {
		// The host side of the veth: not in the sandbox, not the bridge.
		if ifc.Sandbox == "" && ifc.Name != st.Bridge {
			st.HostVeth = ifc.Name
		}
	}
	for _, ip := range r.IPs {
		if ip.Interface != nil && (*ip.Interface < 0 || *ip.Interface >= len(r.Interfaces) ||
			r.Interfaces[*ip.Interface].Sandbox == "") {
			continue
		}
		a, ok := netip.AddrFromSlice(ip.Address.IP)
		if !ok {
			continue
		}
		ones, _ := ip.Address.Mask.Size()
		st.Addrs = append(st.Addrs, netip.PrefixFrom(a.Unmap(), ones))
		if g, ok := netip.AddrFromSlice(ip.Gateway); ok && !st.Gateway.IsValid() {
			st.Gateway = g.Unmap()
		}
	}
	for _, a := range st.Addrs {
		m.cfg.Log("veth %s %s via bridge %s", rc.IfName, a, st.Bridge)
	}
	for _, f := range st.Forwards {
		host := f.HostIP
		if host == "" {
			host = "0.0.0.0"
		}
		guest := "?"
		if len(st.Addrs) > 0 {
			guest = st.Addrs[0].Addr().String()
		}
		m.cfg.Log("portmap %s -> %s", net.JoinHostPort(host, strconv.Itoa(int(f.HostPort)))+"/"+f.Proto(),
			net.JoinHostPort(guest, strconv.Itoa(int(f.GuestPort))))
	}
	m.cfg.Log("CNI ADD %s took %s", list.Name, time.Since(t0).Round(time.Microsecond))
	return nil
}

// cniDel runs DEL with exactly the saved ADD arguments. A namespace that is
// already gone is fine for the plugins (they clean host-side state anyway).
func cniDel(ctx context.Context, st *state, log Logf) error {
	if len(st.NetConfList) == 0 || st.RuntimeConf == nil {
		return nil
	}
	cc, list, rc, err := st.libcniArgs()
	if err != nil {
		return err
	}
	if err := cc.DelNetworkList(ctx, list, rc); err != nil {
		return fmt.Errorf("delete CNI network %s from %s: %w", list.Name, st.Name, err)
	}
	log("CNI DEL %s from %s", list.Name, st.Name)
	return nil
}

// CheckPortFree fails with a *PortInUseError if the forward's host port
// cannot be bound right now on its HostIP (or every address when empty)
// for its protocol. The probe socket is closed before returning.
func CheckPortFree(f Forward) error {
	host := f.HostIP
	if host == "" {
		host = "0.0.0.0"
	}
	addr := net.JoinHostPort(host, strconv.Itoa(int(f.HostPort)))
	var err error
	if f.Proto() == "udp" {
		var c net.PacketConn
		if c, err = net.ListenPacket("udp", addr); err == nil {
			c.Close()
		}
	} else {
		var l net.Listener
		if l, err = net.Listen("tcp", addr); err == nil {
			l.Close()
		}
	}
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return &PortInUseError{Forward: f}
		}
		return fmt.Errorf("check host port %s/%s: %w", addr, f.Proto(), err)
	}
	return nil
}
