package wasi

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

func v2Buf(family uint16, rest []byte) []byte {
	b := make([]byte, addrBufSize)
	putLe16(b, family)
	copy(b[2:], rest)
	return b
}

func TestDecodeAddr(t *testing.T) {
	ip6 := netip.MustParseAddr("2001:db8::1")
	ip6b := ip6.As16()
	for _, tc := range []struct {
		name  string
		buf   []byte
		port  uint32
		want  sys.Addr
		errno sys.Errno
	}{
		{"v1 ipv4", []byte{10, 0, 0, 1}, 80, sys.Addr{Family: sys.AFInet4, IP: netip.MustParseAddr("10.0.0.1"), Port: 80}, 0},
		{"v1 ipv6", ip6b[:], 443, sys.Addr{Family: sys.AFInet6, IP: ip6, Port: 443}, 0},
		{"v2 ipv4", v2Buf(1, []byte{127, 0, 0, 1}), 1, sys.Addr{Family: sys.AFInet4, IP: netip.MustParseAddr("127.0.0.1"), Port: 1}, 0},
		{"v2 ipv6", v2Buf(2, ip6b[:]), 65535, sys.Addr{Family: sys.AFInet6, IP: ip6, Port: 65535}, 0},
		{"v2 unix", v2Buf(3, []byte("/run/s\x00junk")), 0, sys.Addr{Family: sys.AFUnix, Path: "/run/s"}, 0},
		{"v2 unix no NUL", bytes.Repeat([]byte{'a'}, addrBufSize), 0, sys.Addr{}, sys.EAFNOSUPPORT},
		{"v2 unix unterminated", append([]byte{3, 0}, bytes.Repeat([]byte{'a'}, 126)...), 0, sys.Addr{}, sys.EINVAL},
		{"v2 unix abstract", v2Buf(3, []byte{0, 'x'}), 0, sys.Addr{}, sys.EINVAL},
		{"v2 unspec", v2Buf(0, nil), 0, sys.Addr{}, sys.EAFNOSUPPORT},
		{"size 8", make([]byte, 8), 0, sys.Addr{}, sys.EINVAL},
		{"size 0", nil, 0, sys.Addr{}, sys.EINVAL},
		{"port too big", []byte{1, 2, 3, 4}, 65536, sys.Addr{}, sys.EINVAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, errno := decodeAddr(tc.buf, tc.port)
			if errno != tc.errno || got != tc.want {
				t.Errorf("decodeAddr = %+v, %v; want %+v, %v", got, errno, tc.want, tc.errno)
			}
		})
	}
}

func TestEncodeAddr(t *testing.T) {
	v4 := sys.Addr{Family: sys.AFInet4, IP: netip.MustParseAddr("1.2.3.4"), Port: 9}
	v6 := sys.Addr{Family: sys.AFInet6, IP: netip.MustParseAddr("::1"), Port: 9}
	unix := sys.Addr{Family: sys.AFUnix, Path: "/s"}
	ip6 := v6.IP.As16()
	for _, tc := range []struct {
		name     string
		size     int
		a        sys.Addr
		want     []byte
		addrType uint32
		errno    sys.Errno
	}{
		{"v4 in 4", 4, v4, []byte{1, 2, 3, 4}, 4, 0},
		{"v4 in 16", 16, v4, append([]byte{1, 2, 3, 4}, make([]byte, 12)...), 4, 0},
		{"v4 in 128", 128, v4, v2Buf(1, []byte{1, 2, 3, 4}), 4, 0},
		{"v6 in 16", 16, v6, ip6[:], 6, 0},
		{"v6 in 128", 128, v6, v2Buf(2, ip6[:]), 6, 0},
		{"v6 in 4", 4, v6, nil, 0, sys.EINVAL},
		{"unix in 128", 128, unix, v2Buf(3, []byte("/s")), 0, 0},
		{"unix in 16", 16, unix, nil, 0, sys.EINVAL},
		{"unnamed in 128", 128, sys.Addr{}, make([]byte, 128), 0, 0},
		{"long path", 128, sys.Addr{Family: sys.AFUnix, Path: string(bytes.Repeat([]byte{'a'}, 126))}, nil, 0, sys.ENAMETOOLONG},
		{"size 10", 10, v4, nil, 0, sys.EINVAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf := bytes.Repeat([]byte{0xaa}, tc.size)
			at, errno := encodeAddr(buf, tc.a)
			if errno != tc.errno || at != tc.addrType {
				t.Fatalf("encodeAddr = %d, %v; want %d, %v", at, errno, tc.addrType, tc.errno)
			}
			if errno == 0 && !bytes.Equal(buf, tc.want) {
				t.Errorf("wrote %x, want %x", buf, tc.want)
			}
			if errno != 0 && !bytes.Equal(buf, bytes.Repeat([]byte{0xaa}, tc.size)) {
				t.Errorf("failed encode wrote %x", buf)
			}
		})
	}
}
