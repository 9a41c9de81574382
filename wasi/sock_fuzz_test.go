package wasi

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// FuzzDecodeAddr: any buffer and port decode without panicking, and what
// decodes re-encodes into the same size and decodes to the same address.
func FuzzDecodeAddr(f *testing.F) {
	f.Add([]byte{127, 0, 0, 1}, uint32(80))
	f.Add(make([]byte, 16), uint32(65535))
	f.Add(v2Buf(1, []byte{10, 1, 2, 3}), uint32(1))
	f.Add(v2Buf(2, bytes.Repeat([]byte{0xfe}, 16)), uint32(0))
	f.Add(v2Buf(3, []byte("/tmp/sock\x00")), uint32(0))
	f.Add(v2Buf(3, bytes.Repeat([]byte{'x'}, 126)), uint32(70000))
	f.Fuzz(func(t *testing.T, b []byte, port uint32) {
		a, errno := decodeAddr(b, port)
		if errno != 0 {
			return
		}
		out := make([]byte, len(b))
		if _, errno := encodeAddr(out, a); errno != 0 {
			t.Fatalf("decoded %+v from %x but cannot encode it: %v", a, b, errno)
		}
		back, errno := decodeAddr(out, port)
		if errno != 0 || back != a {
			t.Fatalf("round trip of %x: %+v then %+v (%v)", b, a, back, errno)
		}
	})
}

// FuzzGetaddrinfo calls sock_getaddrinfo on guest memory the fuzzer fills:
// the preallocated list, its pointers, the strings and the hints. The node
// is always numeric-only (NUMERICHOST is forced) so no DNS query is made.
// The host function must return an errno, never trap, and never report
// more results than max_res.
func FuzzGetaddrinfo(f *testing.F) {
	h := newHarness(f, Config{})
	f.Add([]byte{}, "127.0.0.1", "80", uint16(0), uint8(0), uint8(2), uint32(gaiList), uint32(4))
	f.Add([]byte{}, "::1", "http", uint16(1), uint8(2), uint8(1), uint32(gaiList), uint32(2))
	f.Add([]byte{}, "", "443\x00", uint16(1), uint8(0), uint8(0), uint32(gaiList+1), uint32(3))
	f.Add(bytes.Repeat([]byte{0xff}, 300), "1.2.3.4", "1", uint16(0), uint8(1), uint8(0), uint32(gaiList), uint32(9))
	f.Fuzz(func(t *testing.T, region []byte, node, service string, flags uint16, family, st uint8, first, max uint32) {
		h.t = t
		h.fill(0)
		h.prepareList(8)
		if len(region) > 8*gaiStride {
			region = region[:8*gaiStride]
		}
		h.write(gaiList, region)
		if len(node) > 200 {
			node = node[:200]
		}
		if len(service) > 90 {
			service = service[:90]
		}
		h.write(gaiNode, []byte(node))
		h.write(gaiSvc, []byte(service))
		hints := make([]byte, addrinfoSize)
		binary.LittleEndian.PutUint16(hints, flags|sys.AINumerichost)
		hints[2], hints[3] = family, st
		h.write(gaiHints, hints)
		h.writeU32(gaiRes, first)
		errno, err := h.callErr("sock_getaddrinfo", gaiNode, uint64(len(node)), gaiSvc, uint64(len(service)),
			gaiHints, gaiRes, uint64(max), gaiResLen)
		if err != nil {
			t.Fatalf("sock_getaddrinfo trapped: %v", err)
		}
		if errno == 0 && h.u32(gaiResLen) > max {
			t.Fatalf("res_len %d > max_res %d", h.u32(gaiResLen), max)
		}
	})
}

// FuzzEgress checks the egress policy's invariants for an arbitrary address
// (4 or 16 bytes, optionally zoned) against a policy built from the input:
// the decision is the one for the address the kernel delivers to
// (sys.EffectiveAddr), which is a fixed point; an IPv4-mapped address is
// judged as its IPv4 address; and the unspecified spellings are never
// permitted when the loopback they reach is denied.
func FuzzEgress(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0}, []byte{127, 0, 0, 0, 8}, []byte{}, false)
	f.Add(make([]byte, 16), []byte{}, append(make([]byte, 15), 1, 128), false)
	f.Add(append(make([]byte, 10), 0xff, 0xff, 0, 0, 0, 0), []byte{0, 0, 0, 0, 0}, []byte{127, 0, 0, 1, 32}, true)
	f.Add([]byte{0xfe, 0x80, 15: 1}, append([]byte{0xfe, 0x80}, make([]byte, 14)...), []byte{}, true)
	f.Fuzz(func(t *testing.T, raw, allow, deny []byte, zone bool) {
		var a netip.Addr
		switch len(raw) {
		case 4:
			a = netip.AddrFrom4([4]byte(raw))
		case 16:
			a = netip.AddrFrom16([16]byte(raw))
			if zone {
				a = a.WithZone("eth0")
			}
		default:
			return
		}
		e := &sys.Egress{Allow: fuzzPrefixes(allow), Deny: fuzzPrefixes(deny)}
		eff := sys.EffectiveAddr(a)
		if sys.EffectiveAddr(eff) != eff {
			t.Fatalf("EffectiveAddr(%s) = %s is not a fixed point", a, eff)
		}
		if eff.Is4In6() || eff.Zone() != "" || eff.IsUnspecified() {
			t.Fatalf("EffectiveAddr(%s) = %s is still mapped, zoned or unspecified", a, eff)
		}
		got := e.Permits(a)
		if got != e.Permits(eff) {
			t.Fatalf("policy %+v: Permits(%s) = %v but Permits(%s) = %v", e, a, got, eff, !got)
		}
		if a.Is4() && got != e.Permits(netip.AddrFrom16(a.As16())) {
			t.Fatalf("policy %+v: %s and its IPv4-mapped form disagree", e, a)
		}
		loop4, loop6 := netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()
		for _, u := range []netip.Addr{netip.IPv4Unspecified(), netip.AddrFrom16(netip.IPv4Unspecified().As16())} {
			if e.Permits(u) != e.Permits(loop4) {
				t.Fatalf("policy %+v: Permits(%s) = %v, Permits(127.0.0.1) = %v", e, u, e.Permits(u), e.Permits(loop4))
			}
		}
		if e.Permits(netip.IPv6Unspecified()) != e.Permits(loop6) {
			t.Fatalf("policy %+v: Permits(::) != Permits(::1)", e)
		}
		if e.Check(a) == 0 != got {
			t.Fatalf("policy %+v: Check(%s) disagrees with Permits", e, a)
		}
	})
}

// fuzzPrefixes reads up to 4 prefixes from b, each a 4- or 16-byte address
// (by the first byte's low bit) and a bit count, masked to the length.
func fuzzPrefixes(b []byte) []netip.Prefix {
	var ps []netip.Prefix
	for len(b) > 0 && len(ps) < 4 {
		n := 4
		if b[0]&1 == 1 {
			n = 16
		}
		if len(b) < n+1 {
			break
		}
		a, _ := netip.AddrFromSlice(b[:n])
		bits := int(b[n]) % (a.BitLen() + 1)
		ps = append(ps, netip.PrefixFrom(a, bits))
		b = b[n+1:]
	}
	return ps
}
