package cni

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The bridge plugin creates its bridge (with the gateway address) on the
// first ADD and never deletes it. A daemonless run must leave nothing
// behind, so the teardown of the last namespace of ours on a bridge removes
// the bridge, and the network's IPAM directory once it holds no lease (as
// podman's netavark does). The next ADD creates both again.

// A bridge that wasmrun did not create (docker0, virbr0, a user's own) is
// never used, changed or deleted: the bridge plugin would add our gateway
// address to it and our teardown would delete it with its addresses. So
// before the ADD that creates a bridge, a marker file is written to the
// IPAM data dir (which every Manager on one bridge shares) under the state
// dir lock: an existing bridge without the marker is refused, and a bridge
// is deleted only while its marker exists, the marker going after it.

// bridgeMarker is the marker file of bridge name in the IPAM data dir
// ('@' is not valid in a CNI network name, so it cannot collide with
// host-local's directories).
func bridgeMarker(dataDir, name string) string {
	return filepath.Join(dataDir, "bridge@"+name)
}

// claimBridge makes sure the configured bridge is one of ours: an existing
// device without our marker is an error; a missing one gets the marker
// (the ADD that follows creates it). Call with the state dir lock held.
func (m *Manager) claimBridge() error {
	name, marker := m.cfg.Bridge.Name, bridgeMarker(m.cfg.Bridge.IPAMDataDir, m.cfg.Bridge.Name)
	if _, err := net.InterfaceByName(name); err == nil {
		if _, err := os.Stat(marker); err != nil {
			return fmt.Errorf("bridge %s exists on the host and was not created by wasmrun: choose another bridge_name", name)
		}
		return nil
	}
	if err := checkSubnetFree(m.cfg.Bridge.Subnet); err != nil {
		return err
	}
	if err := os.MkdirAll(m.cfg.Bridge.IPAMDataDir, 0o700); err != nil {
		return fmt.Errorf("create IPAM dir: %w", err)
	}
	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		return fmt.Errorf("mark bridge %s as ours: %w", name, err)
	}
	return nil
}

// checkSubnetFree refuses a subnet that overlaps a network the host is
// already on: the bridge's route would take that network away from it.
func checkSubnetFree(subnet string) error {
	p, err := netip.ParsePrefix(subnet)
	if err != nil {
		return fmt.Errorf("check bridge subnet %q: %w", subnet, err)
	}
	nets, err := hostNetworks()
	if err != nil {
		return fmt.Errorf("check bridge subnet: %w", err)
	}
	for _, n := range nets {
		if hn := n.Masked(); hn.Overlaps(p) && !n.Addr().IsLoopback() {
			return fmt.Errorf("bridge subnet %s overlaps the host's network %s: choose another subnet", p, hn)
		}
	}
	return nil
}

// bridgeNetwork returns the bridge device and host-local IPAM directory of
// the network list st was set up with ("" when it has no bridge).
func (st *state) bridgeNetwork() (bridge, ipamDir string) {
	if len(st.NetConfList) == 0 {
		return "", ""
	}
	var list struct {
		Name    string `json:"name"`
		Plugins []struct {
			Type   string `json:"type"`
			Bridge string `json:"bridge"`
			IPAM   struct {
				Type    string `json:"type"`
				DataDir string `json:"dataDir"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	if json.Unmarshal(st.NetConfList, &list) != nil {
		return "", ""
	}
	for _, p := range list.Plugins {
		if p.Type != "bridge" || p.Bridge == "" {
			continue
		}
		if p.IPAM.Type == "host-local" && p.IPAM.DataDir != "" && list.Name != "" {
			ipamDir = filepath.Join(p.IPAM.DataDir, list.Name)
		}
		return p.Bridge, ipamDir
	}
	return "", ""
}

// releaseBridge removes the bridge of st's network, after st's CNI DEL,
// when no other namespace in the state dir is set up (or being set up) on
// it and nothing is attached to it. The state dir lock keeps a concurrent
// create from claiming in between; a namespace of another state dir (the
// shim's) on the same bridge keeps a port on it. Failures are logged: the
// bridge is harmless, just left.
func (m *Manager) releaseBridge(st *state) {
	if bridge, _ := st.bridgeNetwork(); bridge == "" {
		return
	}
	unlock, err := m.lock()
	if err != nil {
		m.cfg.Log("keep bridge of %s: %v", st.Name, err)
		return
	}
	defer unlock()
	m.releaseBridgeLocked(st)
}

// releaseBridgeLocked is releaseBridge with the state dir lock held.
func (m *Manager) releaseBridgeLocked(st *state) {
	bridge, ipamDir := st.bridgeNetwork()
	if bridge == "" || ipamDir == "" || m.bridgeUsed(bridge, st.Name) {
		return // no bridge, not a network of ours, or still in use
	}
	// Whatever becomes of the bridge, the IPAM directory is ours, and
	// idle once no state uses the bridge (also after a release that was
	// killed halfway: the bridge and its marker already gone).
	defer func() {
		if removeIdleIPAMDir(ipamDir) {
			m.cfg.Log("removed IPAM directory %s", ipamDir)
		}
	}()
	marker := bridgeMarker(filepath.Dir(ipamDir), bridge)
	if _, err := os.Stat(marker); err != nil {
		return // not created by us (or released already): never deleted
	}
	if _, err := net.InterfaceByName(bridge); err != nil {
		// A create that failed before its ADD made the bridge.
		os.Remove(marker)
		return
	}
	if !bridgeEmptied(bridge, time.Second) {
		return // not a bridge, or something still attached
	}
	// Its guard first: a bridge left unguarded is guarded again by the
	// next namespace on it; a guard left without its bridge would stay.
	if err := unguardHost(bridge); err != nil {
		m.cfg.Log("delete bridge %s: its host guard: %v", bridge, err)
		return
	}
	if err := deleteLink(bridge); err != nil {
		m.cfg.Log("delete bridge %s: %v", bridge, err)
		return
	}
	m.cfg.Log("deleted bridge %s (last namespace on it)", bridge)
	os.Remove(marker)
}

// bridgeEmptied reports whether bridge has no port, waiting up to wait for
// the veths of namespaces just deleted: the kernel destroys a namespace,
// and the veth in it, after its last reference goes, not at once.
func bridgeEmptied(bridge string, wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for {
		ports, err := os.ReadDir(filepath.Join("/sys/class/net", bridge, "brif"))
		if err != nil {
			return false // not a bridge
		}
		if len(ports) == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// bridgeUsed reports whether a state other than except names a network on
// bridge. A state is written before ADD runs, so a create in progress counts.
func (m *Manager) bridgeUsed(bridge, except string) bool {
	for st, err := range m.otherStates(except) {
		if err != nil {
			return true // unreadable: it may use the bridge
		}
		if b, _ := st.bridgeNetwork(); b == bridge {
			return true
		}
	}
	return false
}

// removeIdleIPAMDir removes a host-local network directory that holds no
// lease (only its lock and last_reserved_ip files), and reports whether it
// did.
func removeIdleIPAMDir(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if n := e.Name(); n != "lock" && !strings.HasPrefix(n, "last_reserved_ip") {
			return false
		}
	}
	return os.RemoveAll(dir) == nil
}

// deleteLink deletes the network device name in this network namespace
// (RTM_DELLINK, as `ip link del`).
func deleteLink(name string) error {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink socket: %w", err)
	}
	defer unix.Close(fd)
	// struct nlmsghdr, then struct ifinfomsg naming the device by index.
	req := make([]byte, unix.SizeofNlMsghdr+unix.SizeofIfInfomsg)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], unix.RTM_DELLINK)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	ne.PutUint32(req[8:], 1) // sequence number
	req[16] = unix.AF_UNSPEC
	ne.PutUint32(req[unix.SizeofNlMsghdr+4:], uint32(ifi.Index))
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink send: %w", err)
	}
	buf := make([]byte, 4096)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("netlink receive: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("netlink reply: %w", err)
		}
		for _, msg := range msgs {
			if msg.Header.Seq != 1 || msg.Header.Type != unix.NLMSG_ERROR {
				continue
			}
			if len(msg.Data) < 4 {
				return errors.New("netlink reply: short error message")
			}
			if code := int32(ne.Uint32(msg.Data)); code != 0 {
				return unix.Errno(-code)
			}
			return nil // the ACK
		}
	}
}
