package procnet

import (
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// localPrefixes are the destinations the host's routing delivers to the
// host itself: routes of type local, broadcast and anycast, of IPv4 and
// IPv6, in the tables every packet of the maker's may be routed by. The
// addresses of the interfaces are among them, but also what no interface
// address shows: the whole prefix of an address on lo (10.1.2.1/24 there
// makes all of 10.1.2.0/24 the host's), `ip route add local PREFIX` (a
// default one makes everything the host's), and IPv6's subnet-router
// anycast addresses.
//
// The tables are those of the rules that apply to any packet of ours: the
// local, main and default ones of the standard rules, and those of rules
// that select by destination alone (`ip rule add to 10.1.0.0/16 lookup
// 100`), for their destinations. A rule that also asks for a mark, an
// interface, a user, a source or ports (TPROXY's `fwmark 1 lookup 100`
// with its `local default` route) is not one of them. Each dump asks the
// kernel for one type of route (strict checking, Linux 5.0), so what comes
// back is small however many routes the tables hold.
func localPrefixes() ([]netip.Prefix, error) {
	nl, err := netlinkDumper()
	if err != nil {
		return nil, err
	}
	defer unix.Close(nl)
	var out []netip.Prefix
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		tables := map[uint32][]netip.Prefix{ // table: its destinations (nil: any)
			unix.RT_TABLE_LOCAL: nil, unix.RT_TABLE_MAIN: nil, unix.RT_TABLE_DEFAULT: nil,
		}
		if err := ruleTables(nl, family, tables); err != nil {
			return nil, err
		}
		for _, typ := range []uint8{unix.RTN_LOCAL, unix.RTN_BROADCAST, unix.RTN_ANYCAST} {
			req := make([]byte, unix.SizeofRtMsg)
			*(*unix.RtMsg)(unsafe.Pointer(&req[0])) = unix.RtMsg{Family: family, Type: typ}
			err := dump(nl, unix.RTM_GETROUTE, req, func(m syscall.NetlinkMessage) {
				table, p, ok := route(m, family, typ)
				dsts, used := tables[table]
				if !ok || !used {
					return
				}
				if dsts == nil {
					out = append(out, p)
				}
				for _, d := range dsts {
					if q, ok := overlap(p, d); ok {
						out = append(out, q)
					}
				}
			})
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// ruleTables adds to tables those of the policy rules of family that
// apply to every packet to their destination, with that destination.
func ruleTables(nl int, family uint8, tables map[uint32][]netip.Prefix) error {
	const sizeofRuleHdr = 12 // struct fib_rule_hdr
	req := make([]byte, sizeofRuleHdr)
	req[0] = family
	return dump(nl, unix.RTM_GETRULE, req, func(m syscall.NetlinkMessage) {
		if m.Header.Type != unix.RTM_NEWRULE || len(m.Data) < sizeofRuleHdr {
			return
		}
		// family, dst_len, src_len, tos, table, res1, res2, action, flags
		dstLen, srcLen, tos, table, action := m.Data[1], m.Data[2], m.Data[3], uint32(m.Data[4]), m.Data[7]
		flags := *(*uint32)(unsafe.Pointer(&m.Data[8]))
		if m.Data[0] != family || action != unix.FR_ACT_TO_TBL || srcLen != 0 || tos != 0 || flags&unix.FIB_RULE_INVERT != 0 {
			return
		}
		dst := netip.IPv4Unspecified()
		if family == unix.AF_INET6 {
			dst = netip.IPv6Unspecified()
		}
		for b := m.Data[sizeofRuleHdr:]; len(b) >= 4; {
			l := int(*(*uint16)(unsafe.Pointer(&b[0])))
			typ := *(*uint16)(unsafe.Pointer(&b[2])) &^ unix.NLA_F_NESTED
			if l < 4 || l > len(b) {
				return
			}
			v := b[4:l]
			switch typ {
			case unix.FRA_TABLE:
				if len(v) >= 4 {
					table = *(*uint32)(unsafe.Pointer(&v[0]))
				}
			case unix.FRA_DST:
				var ok bool
				if dst, ok = netip.AddrFromSlice(v); !ok {
					return
				}
			case unix.FRA_IIFNAME, unix.FRA_OIFNAME, unix.FRA_FWMARK, unix.FRA_FWMASK, unix.FRA_UID_RANGE,
				unix.FRA_IP_PROTO, unix.FRA_SPORT_RANGE, unix.FRA_DPORT_RANGE, unix.FRA_L3MDEV, unix.FRA_TUN_ID, unix.FRA_SRC:
				return // a selector beyond the destination
			}
			b = b[(l+3)&^3:]
		}
		d, err := dst.Prefix(int(dstLen))
		if err != nil {
			return
		}
		if ds, ok := tables[table]; ok && ds == nil {
			return // already used for any destination
		}
		if dstLen == 0 {
			tables[table] = nil
			return
		}
		tables[table] = append(tables[table], d)
	})
}

// netlinkDumper is a route netlink socket for dump, strict checking on
// (without it, older kernels, a dump is not filtered: the callers filter
// too).
func netlinkDumper() (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return -1, err
	}
	unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_GET_STRICT_CHK, 1)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// dump sends a dump request of type typ with header hdr over fd (from
// netlinkDumper) and calls each for every message of its answer.
func dump(fd int, typ uint16, hdr []byte, each func(syscall.NetlinkMessage)) error {
	req := make([]byte, unix.SizeofNlMsghdr+len(hdr))
	*(*unix.NlMsghdr)(unsafe.Pointer(&req[0])) = unix.NlMsghdr{
		Len: uint32(len(req)), Type: typ, Flags: unix.NLM_F_REQUEST | unix.NLM_F_DUMP, Seq: 1,
	}
	copy(req[unix.SizeofNlMsghdr:], hdr)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if e := *(*int32)(unsafe.Pointer(&m.Data[0])); e != 0 {
						return unix.Errno(-e)
					}
				}
				return nil
			default:
				each(m)
			}
		}
	}
}

// route is the table and destination of route message m if it is a route
// of family and type typ.
func route(m syscall.NetlinkMessage, family, typ uint8) (uint32, netip.Prefix, bool) {
	if m.Header.Type != unix.RTM_NEWROUTE || len(m.Data) < unix.SizeofRtMsg {
		return 0, netip.Prefix{}, false
	}
	rt := (*unix.RtMsg)(unsafe.Pointer(&m.Data[0]))
	if rt.Type != typ || rt.Family != family {
		return 0, netip.Prefix{}, false
	}
	attrs, err := syscall.ParseNetlinkRouteAttr(&m)
	if err != nil {
		return 0, netip.Prefix{}, false
	}
	table := uint32(rt.Table)
	// A default route (length 0) has no destination attribute.
	dst := netip.IPv4Unspecified()
	if family == unix.AF_INET6 {
		dst = netip.IPv6Unspecified()
	}
	for _, a := range attrs {
		switch a.Attr.Type {
		case unix.RTA_TABLE:
			if len(a.Value) >= 4 {
				table = *(*uint32)(unsafe.Pointer(&a.Value[0]))
			}
		case unix.RTA_DST:
			var ok bool
			if dst, ok = netip.AddrFromSlice(a.Value); !ok {
				return 0, netip.Prefix{}, false
			}
		}
	}
	p, err := dst.Unmap().Prefix(int(rt.Dst_len))
	return table, p, err == nil
}

// overlap is the part of p that d covers, when they overlap: the longer
// of the two prefixes.
func overlap(p, d netip.Prefix) (netip.Prefix, bool) {
	switch {
	case p.Bits() <= d.Bits() && p.Contains(d.Addr()):
		return d, true
	case d.Bits() <= p.Bits() && d.Contains(p.Addr()):
		return p, true
	}
	return netip.Prefix{}, false
}
