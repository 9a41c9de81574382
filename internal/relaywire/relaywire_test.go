package relaywire

import (
	"net/netip"
	"testing"
)

// TestHeader: an address round-trips (an IPv4-mapped one as its IPv4
// one), and a short buffer or an unknown family is no header.
func TestHeader(t *testing.T) {
	b := make([]byte, HeaderLen)
	for in, want := range map[string]string{
		"10.1.2.3:53":          "10.1.2.3:53",
		"[2001:db8::1]:443":    "[2001:db8::1]:443",
		"[::ffff:10.1.2.3]:80": "10.1.2.3:80",
	} {
		PutHeader(b, netip.MustParseAddrPort(in))
		if got, ok := Header(b); !ok || got != netip.MustParseAddrPort(want) {
			t.Errorf("%s: read back %v %v, want %s", in, got, ok, want)
		}
	}
	if _, ok := Header(b[:HeaderLen-1]); ok {
		t.Error("a short header read")
	}
	b[0] = 5
	if _, ok := Header(b); ok {
		t.Error("family 5 read")
	}
}
