package procnet

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// skfNetOff is SKF_NET_OFF: a socket filter's loads from it on are
// relative to the packet's network (IP) header; below it, to the
// transport header, where a TCP socket's filter sees the packet start.
const skfNetOff = 0xfff00000 // -0x100000

// pinPeer attaches a socket filter to TCP socket fd that takes only
// packets from peer (its address and port), and locks it: nobody holding
// the socket can detach or replace it (SO_LOCK_FILTER). Whatever the
// holder connects the socket to later, the answers are dropped, so no
// other connection is ever established on it. For an IPv4 peer the
// filter reads the IPv4 source address (an AF_INET6 socket connected to
// an IPv4-mapped address gets IPv4 packets), for an IPv6 one the IPv6
// one.
func pinPeer(fd int, peer netip.AddrPort) error {
	prog, err := pinProgram(peer)
	if err != nil {
		return err
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0]))}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		return fmt.Errorf("hold a host socket to %s: %w", peer, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_LOCK_FILTER, 1); err != nil {
		return fmt.Errorf("hold a host socket to %s: %w", peer, err)
	}
	return nil
}

// pinProgram is pinPeer's filter: the TCP source port, then each 32-bit
// word of the IP source address, compared with peer's; all equal keeps
// the whole packet, any other drops it.
func pinProgram(peer netip.AddrPort) ([]unix.SockFilter, error) {
	ip := peer.Addr().Unmap()
	var words []uint32
	var off uint32
	if ip.Is4() {
		a := ip.As4()
		words, off = []uint32{binary.BigEndian.Uint32(a[:])}, 12 // iphdr.saddr
	} else {
		a := ip.As16()
		for i := 0; i < 16; i += 4 {
			words = append(words, binary.BigEndian.Uint32(a[i:]))
		}
		off = 8 // ipv6hdr.saddr
	}
	// Checks: the port, then the words; each jumps to the drop at the end.
	checks := 1 + len(words)
	drop := func(i int) uint8 { return uint8(2*(checks-i) - 1) } // from check i's jump to the drop
	insns := []bpf.Instruction{
		bpf.LoadAbsolute{Off: 0, Size: 2}, // tcphdr.source
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: uint32(peer.Port()), SkipTrue: drop(0)},
	}
	for i, w := range words {
		insns = append(insns,
			bpf.LoadAbsolute{Off: skfNetOff + off + uint32(4*i), Size: 4},
			bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: w, SkipTrue: drop(i + 1)})
	}
	insns = append(insns, bpf.RetConstant{Val: 0xffffffff}, bpf.RetConstant{Val: 0})
	raw, err := bpf.Assemble(insns)
	if err != nil {
		return nil, fmt.Errorf("assemble a socket filter: %w", err)
	}
	prog := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		prog[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return prog, nil
}
