package netrule

import (
	"net/netip"
	"testing"
)

// TestOpens: only an allow prefix as specific as the block opens a blocked
// address, never a wider one, and a deny prefix as specific wins.
func TestOpens(t *testing.T) {
	ps := func(s ...string) (out []netip.Prefix) {
		for _, p := range s {
			out = append(out, netip.MustParsePrefix(p))
		}
		return out
	}
	ip := Effective(netip.MustParseAddr("::ffff:10.0.0.1"))
	bits := LongestMatch(ps("10.0.0.1/32"), ip)
	for _, tc := range []struct {
		allow, deny []netip.Prefix
		want        bool
	}{
		{nil, nil, false},
		{ps("0.0.0.0/0"), nil, false},
		{ps("10.0.0.0/8"), nil, false},
		{ps("10.0.0.1/32"), nil, true},
		{ps("::ffff:10.0.0.1/128"), nil, true},
		{ps("10.0.0.1/32"), ps("10.0.0.1/32"), false},
		{ps("10.0.0.1/32"), ps("10.0.0.0/8"), true},
	} {
		if got := Opens(tc.allow, tc.deny, ip, bits); got != tc.want {
			t.Errorf("allow %v deny %v: %v, want %v", tc.allow, tc.deny, got, tc.want)
		}
	}
	if got := Effective(netip.IPv4Unspecified()); got != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("Effective(0.0.0.0) = %v", got)
	}
}
