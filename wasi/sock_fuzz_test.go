package wasi

import (
	"bytes"
	"encoding/binary"
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
