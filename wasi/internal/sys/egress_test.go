package sys

import (
	"net/netip"
	"testing"
)

func TestEgress(t *testing.T) {
	p := func(ss ...string) (out []netip.Prefix) {
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	for _, tc := range []struct {
		name        string
		allow, deny []netip.Prefix
		addr        string
		want        bool
	}{
		{"no policy", nil, nil, "203.0.113.1", true},
		{"deny list hit", nil, p("10.0.0.0/8"), "10.1.2.3", false},
		{"deny list miss", nil, p("10.0.0.0/8"), "192.0.2.1", true},
		{"allow list hit", p("192.0.2.0/24"), nil, "192.0.2.9", true},
		{"allow list miss", p("192.0.2.0/24"), nil, "198.51.100.1", false},
		{"specific allow beats broad deny", p("127.0.0.1/32"), p("0.0.0.0/0"), "127.0.0.1", true},
		{"broad deny applies elsewhere", p("127.0.0.1/32"), p("0.0.0.0/0"), "127.0.0.2", false},
		{"specific deny beats broad allow", p("0.0.0.0/0"), p("127.0.0.0/8"), "127.0.0.1", false},
		{"tie: deny wins", p("10.0.0.0/8"), p("10.0.0.0/8"), "10.0.0.1", false},
		{"loopback gets no exception", nil, p("0.0.0.0/0"), "127.0.0.1", false},
		{"v4-mapped v6 address is v4", nil, p("127.0.0.0/8"), "::ffff:127.0.0.1", false},
		{"v4 rule does not match v6", nil, p("0.0.0.0/0"), "::1", true},
		{"v6 deny", nil, p("::1/128"), "::1", false},
		{"v6 not in v4 allow list", p("0.0.0.0/0"), nil, "::1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &Egress{Allow: tc.allow, Deny: tc.deny}
			addr := netip.MustParseAddr(tc.addr)
			if got := e.Permits(addr); got != tc.want {
				t.Errorf("Permits(%s) = %v, want %v", addr, got, tc.want)
			}
			wantErrno := ESUCCESS
			if !tc.want {
				wantErrno = EPERM
			}
			if got := e.Check(addr); got != wantErrno {
				t.Errorf("Check(%s) = %s, want %s", addr, got.Name(), wantErrno.Name())
			}
		})
	}
	var nilPolicy *Egress
	if !nilPolicy.Permits(netip.MustParseAddr("10.0.0.1")) {
		t.Error("a nil policy denied an address")
	}
}
