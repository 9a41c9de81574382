package wasi

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strings"
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
		got := e.Permits(a, 443)
		if got != e.Permits(eff, 443) {
			t.Fatalf("policy %+v: Permits(%s) = %v but Permits(%s) = %v", e, a, got, eff, !got)
		}
		if a.Is4() && got != e.Permits(netip.AddrFrom16(a.As16()), 443) {
			t.Fatalf("policy %+v: %s and its IPv4-mapped form disagree", e, a)
		}
		loop4, loop6 := netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()
		for _, u := range []netip.Addr{netip.IPv4Unspecified(), netip.AddrFrom16(netip.IPv4Unspecified().As16())} {
			if e.Permits(u, 443) != e.Permits(loop4, 443) {
				t.Fatalf("policy %+v: Permits(%s) = %v, Permits(127.0.0.1) = %v", e, u, e.Permits(u, 443), e.Permits(loop4, 443))
			}
		}
		if e.Permits(netip.IPv6Unspecified(), 443) != e.Permits(loop6, 443) {
			t.Fatalf("policy %+v: Permits(::) != Permits(::1)", e)
		}
		if e.Check(a, 443) == 0 != got {
			t.Fatalf("policy %+v: Check(%s) disagrees with Permits", e, a)
		}
	})
}

// FuzzEgressEntry: parsing an allow or deny entry never panics; what
// parses is exactly one of a prefix and a name, prints as a string that
// parses to the same entry, and is accepted by Instantiate's check. A name
// is canonical (lower case, no trailing dot, at most 253 bytes) and
// matches what it names in any case and with a trailing dot: an exact name
// itself, a wildcard any name under its suffix but not the suffix.
func FuzzEgressEntry(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "10.1.2.3", "::1", "fe80::/10", "api.example.com",
		"API.Example.COM.:443", "*.internal", "*.internal:8443", "*", "*.", "a.*.b", "[::1]:80",
		"1.2.3.4:80", "host:0", "host:65536", "-a.b", "a..b", "10.0.0", "x_y.test", "fe80::1%eth0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseEgressEntry(s)
		if err != nil {
			return
		}
		if e.Prefix.IsValid() == (e.Name != EgressName{}) {
			t.Fatalf("%q parsed to %+v: want a prefix or a name", s, e)
		}
		back, err := ParseEgressEntry(e.String())
		if err != nil || back != e {
			t.Fatalf("%q parsed to %+v, printed as %q, which parses to %+v (%v)", s, e, e.String(), back, err)
		}
		if e.Prefix.IsValid() {
			if e.Prefix != e.Prefix.Masked() {
				t.Fatalf("%q: prefix %s is not masked", s, e.Prefix)
			}
			return
		}
		n := e.Name
		if n.Name != strings.ToLower(n.Name) || strings.HasSuffix(n.Name, ".") || len(n.Name) > 253 {
			t.Fatalf("%q: name %q is not canonical", s, n.Name)
		}
		if _, err := (Egress{AllowNames: []EgressName{n}}).sys(); err != nil {
			t.Fatalf("%q: Instantiate would refuse what parsed: %v", s, err)
		}
		if n.Port != 0 {
			if (&Egress{}).AddDeny(s) == nil {
				t.Fatalf("%q: a deny name with a port was accepted", s)
			}
		}
		entry := sys.NameEntry(n)
		name := n.Name
		if suffix, ok := strings.CutPrefix(name, "*."); ok {
			if entry.Matches(suffix) {
				t.Fatalf("%q matches its bare suffix %q", s, suffix)
			}
			name = "x." + suffix
		}
		for _, v := range []string{name, strings.ToUpper(name), name + "."} {
			if !entry.Matches(v) {
				t.Fatalf("%q does not match %q", s, v)
			}
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
