// Package relaywire is the record format of a datagram relay, shared by
// its two ends: the process that makes host sockets (cni/procnet) and the
// WASI layer of the container process (wasi/internal/sys). Each record on
// the relay's SOCK_SEQPACKET pair is a datagram behind a header: the
// destination on the way out, the source on the way in, as the address
// family (4 or 6), the port (big-endian) and the address in 16 bytes (an
// IPv4 one in the first 4). The first record in is the header alone, with
// the relayed socket's own address.
package relaywire

import (
	"encoding/binary"
	"net/netip"
)

// HeaderLen is the size of a record's header.
const HeaderLen = 19

// PutHeader writes ap into b[:HeaderLen] (an IPv4-mapped address as its
// IPv4 one).
func PutHeader(b []byte, ap netip.AddrPort) {
	clear(b[:HeaderLen])
	ip := ap.Addr().Unmap()
	b[0] = 6
	if ip.Is4() {
		b[0] = 4
	}
	binary.BigEndian.PutUint16(b[1:], ap.Port())
	if a := ip.AsSlice(); len(a) > 0 {
		copy(b[3:], a)
	}
}

// Header reads the address in b[:HeaderLen]; false for anything that is
// not a header.
func Header(b []byte) (netip.AddrPort, bool) {
	if len(b) < HeaderLen {
		return netip.AddrPort{}, false
	}
	port := binary.BigEndian.Uint16(b[1:])
	switch b[0] {
	case 4:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[3:7])), port), true
	case 6:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[3:19])), port), true
	}
	return netip.AddrPort{}, false
}
