package wasi

import (
	"net/netip"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// Socket addresses of the WasmEdge extension. A guest passes an address as a
// pointer to {u32 buf, u32 buf_len}; the buffer's size tells the layout:
//
//	4    V1: IPv4 address bytes
//	16   V1: IPv6 address bytes (or, on output, IPv4 in the first 4 bytes)
//	128  V2: u16 family (little-endian; 1 inet4, 2 inet6, 3 unix) at [0:2],
//	     then IPv4 at [2:6], IPv6 at [2:18] or a NUL-terminated path at [2:]
//
// The port travels separately as a u32 in host order. All three sizes are
// accepted by every function, whichever generation it belongs to.

// addrBufSize is the size of a V2 address buffer.
const addrBufSize = 128

// maxGuestUnixPath is the longest path a V2 buffer holds with its NUL.
const maxGuestUnixPath = addrBufSize - 2 - 1

// addrBuf returns the guest buffer an address struct at ptr points to.
func addrBuf(mem api.Memory, ptr uint32) ([]byte, sys.Errno) {
	hdr, ok := mem.Read(ptr, 8)
	if !ok {
		return nil, sys.EFAULT
	}
	return view(mem, le32(hdr), le32(hdr[4:]))
}

// readAddr decodes the address struct at ptr with port.
func readAddr(mem api.Memory, ptr, port uint32) (sys.Addr, sys.Errno) {
	buf, errno := addrBuf(mem, ptr)
	if errno != 0 {
		return sys.Addr{}, errno
	}
	return decodeAddr(buf, port)
}

// addrFits reports whether an address buffer of size bytes can hold an
// address of family (AFUnspec: no address, which fits any): EINVAL for a
// size other than 4, 16 and 128, IPv6 in 4 bytes, Unix in 4 or 16.
func addrFits(size int, family sys.Family) sys.Errno {
	switch size {
	case 4, 16, addrBufSize:
	default:
		return sys.EINVAL
	}
	switch {
	case family == sys.AFInet6 && size == 4,
		family == sys.AFUnix && size != addrBufSize:
		return sys.EINVAL
	}
	return sys.ESUCCESS
}

// decodeAddr decodes an address buffer of 4, 16 or 128 bytes. Errors:
// EINVAL (other sizes, a port over 65535, a path without NUL or an empty
// path), EAFNOSUPPORT (unknown V2 family).
func decodeAddr(b []byte, port uint32) (sys.Addr, sys.Errno) {
	if port > 0xffff {
		return sys.Addr{}, sys.EINVAL
	}
	switch len(b) {
	case 4:
		return sys.Addr{Family: sys.AFInet4, IP: netip.AddrFrom4([4]byte(b)), Port: uint16(port)}, sys.ESUCCESS
	case 16:
		return sys.Addr{Family: sys.AFInet6, IP: netip.AddrFrom16([16]byte(b)), Port: uint16(port)}, sys.ESUCCESS
	case addrBufSize:
	default:
		return sys.Addr{}, sys.EINVAL
	}
	switch sys.Family(le16(b)) {
	case sys.AFInet4:
		return sys.Addr{Family: sys.AFInet4, IP: netip.AddrFrom4([4]byte(b[2:6])), Port: uint16(port)}, sys.ESUCCESS
	case sys.AFInet6:
		return sys.Addr{Family: sys.AFInet6, IP: netip.AddrFrom16([16]byte(b[2:18])), Port: uint16(port)}, sys.ESUCCESS
	case sys.AFUnix:
		p := b[2:]
		for i, c := range p {
			if c == 0 {
				if i == 0 {
					// Linux's abstract namespace is outside every
					// preopen: not offered.
					return sys.Addr{}, sys.EINVAL
				}
				return sys.Addr{Family: sys.AFUnix, Path: string(p[:i])}, sys.ESUCCESS
			}
		}
		return sys.Addr{}, sys.EINVAL
	}
	return sys.Addr{}, sys.EAFNOSUPPORT
}

// encodeAddr writes a into a guest buffer of 4, 16 or 128 bytes, and returns
// the V1 address type (4 or 6; 0 for Unix or no address). The whole buffer
// is written: bytes after the address are zeroed. A zero Addr (no address,
// e.g. an unnamed peer) writes zeros (family 0 in a V2 buffer).
// Errors: EINVAL (a buffer of another size, or an address that does not fit
// its size: IPv6 in 4 bytes, Unix in 4 or 16), ENAMETOOLONG (a path longer
// than 125 bytes).
func encodeAddr(b []byte, a sys.Addr) (addrType uint32, errno sys.Errno) {
	if errno := addrFits(len(b), a.Family); errno != 0 {
		return 0, errno
	}
	switch a.Family {
	case sys.AFInet4:
		addrType = 4
	case sys.AFInet6:
		addrType = 6
	case sys.AFUnix:
		if len(a.Path) > maxGuestUnixPath {
			return 0, sys.ENAMETOOLONG
		}
	}
	out := b
	clear(b)
	if len(b) == addrBufSize {
		putLe16(b, uint16(a.Family))
		out = b[2:]
	}
	switch a.Family {
	case sys.AFInet4:
		ip := a.IP.As4()
		copy(out, ip[:])
	case sys.AFInet6:
		ip := a.IP.As16()
		copy(out, ip[:])
	case sys.AFUnix:
		copy(out, a.Path)
	}
	return addrType, sys.ESUCCESS
}
