package procnet

import (
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// localPrefixes are the destinations of the local routing table (the
// kernel's table 255) that it delivers to this host: routes of type local,
// broadcast and anycast, of IPv4 and IPv6. The addresses of the
// interfaces are among them, but also what no interface address shows:
// the whole prefix of an address on lo (10.1.2.1/24 there makes all of
// 10.1.2.0/24 the host's), `ip route add local PREFIX`, and IPv6's
// subnet-router anycast addresses. The dump asks for table 255 alone
// (strict checking, Linux 4.20), and only its routes are taken, however
// many routes the host's other tables hold.
func localPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		ps, err := localRoutes(family)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	return out, nil
}

// localRoutes dumps the local table's routes of family.
func localRoutes(family uint8) ([]netip.Prefix, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	// Without strict checking (older kernels) the dump has every table,
	// filtered below.
	unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_GET_STRICT_CHK, 1)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, err
	}
	req := make([]byte, unix.SizeofNlMsghdr+unix.SizeofRtMsg)
	*(*unix.NlMsghdr)(unsafe.Pointer(&req[0])) = unix.NlMsghdr{
		Len:   uint32(len(req)),
		Type:  unix.RTM_GETROUTE,
		Flags: unix.NLM_F_REQUEST | unix.NLM_F_DUMP,
		Seq:   1,
	}
	*(*unix.RtMsg)(unsafe.Pointer(&req[unix.SizeofNlMsghdr])) = unix.RtMsg{Family: family, Table: unix.RT_TABLE_LOCAL}
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, err
	}
	var out []netip.Prefix
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if e := *(*int32)(unsafe.Pointer(&m.Data[0])); e != 0 {
						return nil, unix.Errno(-e)
					}
				}
				return out, nil
			case unix.RTM_NEWROUTE:
				if p, ok := localRoute(m); ok {
					out = append(out, p)
				}
			}
		}
	}
}

// localRoute is the destination of route message m if it is one of the
// local table that delivers to the host.
func localRoute(m syscall.NetlinkMessage) (netip.Prefix, bool) {
	if len(m.Data) < unix.SizeofRtMsg {
		return netip.Prefix{}, false
	}
	rt := (*unix.RtMsg)(unsafe.Pointer(&m.Data[0]))
	switch rt.Type {
	case unix.RTN_LOCAL, unix.RTN_BROADCAST, unix.RTN_ANYCAST:
	default:
		return netip.Prefix{}, false
	}
	table := uint32(rt.Table)
	attrs, err := syscall.ParseNetlinkRouteAttr(&m)
	if err != nil {
		return netip.Prefix{}, false
	}
	var dst netip.Addr
	for _, a := range attrs {
		switch a.Attr.Type {
		case unix.RTA_TABLE:
			if len(a.Value) >= 4 {
				table = *(*uint32)(unsafe.Pointer(&a.Value[0]))
			}
		case unix.RTA_DST:
			dst, _ = netip.AddrFromSlice(a.Value)
		}
	}
	if table != unix.RT_TABLE_LOCAL || !dst.IsValid() {
		return netip.Prefix{}, false
	}
	p, err := dst.Unmap().Prefix(int(rt.Dst_len))
	return p, err == nil
}
