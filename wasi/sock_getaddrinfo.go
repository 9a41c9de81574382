package wasi

import (
	"context"
	"encoding/binary"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

func init() {
	register(newFunc("sock_getaddrinfo", sockGetaddrinfo,
		"node", "node_len", "service", "service_len", "hints", "result.res", "max_res_len", "result.res_len"))
}

// The wasm32 layouts of sock_getaddrinfo.
//
//	addrinfo (28 bytes): flags u16 @0, family u8 @2, socktype u8 @3,
//	  protocol u32 @4, addrlen u32 @8, addr ptr @12, canonname ptr @16,
//	  canonname_len u32 @20, next ptr @24
//	sockaddr (12 bytes): family u8 @0, data_len u32 @4, data ptr @8
//	data: big-endian port at [0:2], then the IPv4 or IPv6 address at [2:]
//
// The IPv6 address is at offset 2, where the Go and Rust clients read it;
// WasmEdge itself writes it at 6 (after a flowinfo), a known divergence.
const (
	addrinfoSize = 28
	sockaddrSize = 12
	// rustSockDataLen is the sa_data_len the wasmedge_wasi_socket crate
	// declares while allocating rustSockDataCap bytes (wasi-go makes the
	// same allowance); without it no IPv6 address fits.
	rustSockDataLen = 14
	rustSockDataCap = 26
	// maxAddrinfo bounds max_res, so a guest cannot make the host walk an
	// unbounded list.
	maxAddrinfo = 1024
	// maxNodeLen bounds a host name (DNS names are at most 253 bytes).
	maxNodeLen = 1024
)

// sockGetaddrinfo resolves node and service (each of the given length,
// possibly counting a trailing NUL) with the hints addrinfo at hints, and
// fills the guest's preallocated list: *res points to the first of at most
// max_res_len addrinfo entries chained by next. For each result it writes
// family, socktype, protocol (the extension's 1 TCP, 2 UDP), addrlen (12),
// canonname_len (0 unless CANONNAME asked and the name fits its buffer with
// a NUL), the sockaddr's family and data; ai_flags and the pointers are left
// as the guest set them. The number filled goes to res_len.
// Errors: EAI_* (see sys.Resolver.GetAddrInfo), EINVAL (max_res_len 0),
// EFAULT (any pointer, or a data buffer too small for the address).
// POSIX: getaddrinfo.
func sockGetaddrinfo(ctx context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	mem := mod.Memory()
	nodePtr, nodeLen, svcPtr, svcLen := uint32(p[0]), uint32(p[1]), uint32(p[2]), uint32(p[3])
	hintsPtr, resPtr, maxRes, resLenPtr := uint32(p[4]), uint32(p[5]), uint32(p[6]), uint32(p[7])
	if errno := writable(mem, 4, resLenPtr); errno != 0 {
		return errno
	}
	if nodeLen > maxNodeLen || svcLen > maxNodeLen {
		return sys.EAI_NONAME
	}
	node, errno := readCString(mem, nodePtr, nodeLen)
	if errno != 0 {
		return errno
	}
	service, errno := readCString(mem, svcPtr, svcLen)
	if errno != 0 {
		return errno
	}
	raw, ok := mem.Read(hintsPtr, addrinfoSize)
	if !ok {
		return sys.EFAULT
	}
	hints := decodeHints(raw)
	first, ok := mem.ReadUint32Le(resPtr)
	if !ok {
		return sys.EFAULT
	}
	if maxRes == 0 {
		return sys.EINVAL
	}
	if maxRes > maxAddrinfo {
		maxRes = maxAddrinfo
	}
	results, errno := h.resolver.GetAddrInfo(ctx, node, service, hints, int(maxRes))
	if errno != 0 {
		return errno
	}
	n, errno := writeAddrinfos(mem, first, results)
	if errno != 0 {
		return errno
	}
	return writeU32(mem, resLenPtr, n)
}

// readCString reads n bytes at ptr up to the first NUL.
func readCString(mem api.Memory, ptr, n uint32) (string, sys.Errno) {
	b, ok := mem.Read(ptr, n)
	if !ok {
		return "", sys.EFAULT
	}
	for i, c := range b {
		if c == 0 {
			b = b[:i]
			break
		}
	}
	return string(b), sys.ESUCCESS
}

// decodeHints decodes a 28-byte addrinfo used as hints.
func decodeHints(b []byte) sys.AddrInfoHints {
	return sys.AddrInfoHints{
		Flags:    le16(b),
		Family:   sys.Family(b[2]),
		SockType: sys.SockType(b[3]),
		Protocol: le32(b[4:]),
	}
}

// writeAddrinfos fills the guest's list starting at ptr with results, and
// returns how many entries it filled (fewer when the list ends early).
func writeAddrinfos(mem api.Memory, ptr uint32, results []sys.AddrInfo) (uint32, sys.Errno) {
	var n uint32
	for i, r := range results {
		if i > 0 && ptr == 0 {
			break
		}
		ai, ok := mem.Read(ptr, addrinfoSize)
		if !ok {
			return n, sys.EFAULT
		}
		if errno := writeAddrinfo(mem, ai, r); errno != 0 {
			return n, errno
		}
		n++
		ptr = le32(ai[24:])
	}
	return n, sys.ESUCCESS
}

// writeAddrinfo fills one addrinfo entry ai (a view of guest memory).
func writeAddrinfo(mem api.Memory, ai []byte, r sys.AddrInfo) sys.Errno {
	sa, ok := mem.Read(le32(ai[12:]), sockaddrSize)
	if !ok {
		return sys.EFAULT
	}
	dataLen := le32(sa[4:])
	if dataLen == rustSockDataLen {
		dataLen = rustSockDataCap
	}
	data, ok := mem.Read(le32(sa[8:]), dataLen)
	if !ok {
		return sys.EFAULT
	}
	if errno := encodeSockData(data, r.Addr); errno != 0 {
		return errno
	}
	canonLen := uint32(0)
	if r.CanonName != "" {
		if capacity := le32(ai[20:]); uint32(len(r.CanonName)) < capacity {
			if buf, ok := mem.Read(le32(ai[16:]), uint32(len(r.CanonName))+1); ok {
				copy(buf, r.CanonName)
				buf[len(r.CanonName)] = 0
				canonLen = uint32(len(r.CanonName))
			}
		}
	}
	sa[0], sa[1], sa[2], sa[3] = byte(r.Family), 0, 0, 0
	ai[2] = byte(r.Family)
	ai[3] = byte(r.SockType)
	putLe32(ai[4:], r.Protocol)
	putLe32(ai[8:], sockaddrSize)
	putLe32(ai[20:], canonLen)
	return sys.ESUCCESS
}

// encodeSockData writes a's big-endian port and address into data.
// Errors: EFAULT when data is too small (the guest's buffer is its
// declared size), EAFNOSUPPORT for a non-IP address.
func encodeSockData(data []byte, a sys.Addr) sys.Errno {
	var ip []byte
	switch a.Family {
	case sys.AFInet4:
		v := a.IP.As4()
		ip = v[:]
	case sys.AFInet6:
		v := a.IP.As16()
		ip = v[:]
	default:
		return sys.EAFNOSUPPORT
	}
	if len(data) < 2+len(ip) {
		return sys.EFAULT
	}
	binary.BigEndian.PutUint16(data, a.Port)
	copy(data[2:], ip)
	return sys.ESUCCESS
}
