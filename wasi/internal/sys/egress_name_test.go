package sys

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmrun/wasmrun/wasi/internal/wintest"
)

func TestParseName(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want NameEntry
	}{
		{"api.example.com", NameEntry{"api.example.com", 0}},
		{"API.Example.COM.", NameEntry{"api.example.com", 0}},
		{"api.example.com:443", NameEntry{"api.example.com", 443}},
		{"*.internal", NameEntry{"*.internal", 0}},
		{"*.Internal.:8443", NameEntry{"*.internal", 8443}},
		{"localhost", NameEntry{"localhost", 0}},
		{"x_y-1.test", NameEntry{"x_y-1.test", 0}},
		{"1.2.3.example", NameEntry{"1.2.3.example", 0}},
		{strings.Repeat("a", 63) + ".test", NameEntry{strings.Repeat("a", 63) + ".test", 0}},
	} {
		got, err := ParseName(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseName(%q) = %+v, %v, want %+v", tc.in, got, err, tc.want)
		}
		if back, err := ParseName(got.String()); err != nil || back != got {
			t.Errorf("ParseName(%q) does not round-trip: %+v, %v", got.String(), back, err)
		}
	}
	long := strings.Repeat(strings.Repeat("a", 49)+".", 5) + "test" // 254 bytes
	for in, why := range map[string]string{
		"":                                "empty",
		".":                               "empty",
		"*":                               "wildcard needs a suffix",
		"*.":                              "wildcard needs a suffix",
		"a.*.b":                           "wildcard only first",
		"*a.b":                            "wildcard only a whole label",
		"**.b":                            "wildcard only a whole label",
		"*.*.b":                           "wildcard only first",
		"a..b":                            "empty label",
		".a":                              "empty label",
		"-a.b":                            "leading '-'",
		"a-.b":                            "trailing '-'",
		"a b":                             "space",
		"a/b":                             "slash",
		"ünï.test":                        "not ASCII",
		"10.0.0":                          "all-digit last label",
		"api.test:":                       "empty port",
		"api.test:0":                      "port 0",
		"api.test:65536":                  "port too big",
		"api.test:+1":                     "signed port",
		"api.test:https":                  "named port",
		"a:b:443":                         "colon in the host",
		long:                              "over 253 bytes",
		strings.Repeat("a", 64) + ".test": "label over 63 bytes",
	} {
		if got, err := ParseName(in); err == nil {
			t.Errorf("ParseName(%q) = %+v, want an error (%s)", in, got, why)
		}
	}
}

func TestNameMatch(t *testing.T) {
	for _, tc := range []struct {
		entry, name string
		want        bool
	}{
		{"api.example.com", "api.example.com", true},
		{"api.example.com", "API.EXAMPLE.COM.", true},
		{"api.example.com", "x.api.example.com", false},
		{"api.example.com", "api.example.co", false},
		{"*.internal", "db.internal", true},
		{"*.internal", "a.b.internal.", true},
		{"*.internal", "internal", false},
		{"*.internal", ".internal", false},
		{"*.internal", "xinternal", false},
		{"*.internal", "db.internal.evil", false},
	} {
		n, err := ParseName(tc.entry)
		if err != nil {
			t.Fatal(err)
		}
		if got := n.Matches(tc.name); got != tc.want {
			t.Errorf("%s matches %q = %v, want %v", tc.entry, tc.name, got, tc.want)
		}
	}
}

func names(t *testing.T, ss ...string) []NameEntry {
	t.Helper()
	var out []NameEntry
	for _, s := range ss {
		n, err := ParseName(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// TestJudgeName: the most specific name entry decides, deny on a tie; the
// allow entries returned are those that outrank every matching deny.
func TestJudgeName(t *testing.T) {
	e := &Egress{
		AllowNames: names(t, "*.example.com", "api.internal", "api.internal:8443", "*.svc.internal:443", "both.test"),
		DenyNames:  names(t, "secret.example.com", "*.internal", "both.test"),
	}
	for _, tc := range []struct {
		name    string
		allowed []string
		denied  bool
	}{
		{"www.example.com", []string{"*.example.com"}, false},
		{"SECRET.example.com.", nil, true},
		{"x.secret.example.com", []string{"*.example.com"}, false},
		{"api.internal", []string{"api.internal", "api.internal:8443"}, false},
		{"db.internal", nil, true},
		{"a.svc.internal", []string{"*.svc.internal:443"}, false},
		{"both.test", nil, true},
		{"other.test", nil, false},
		{"", nil, false},
	} {
		allowed, denied := e.judgeName(tc.name)
		var got []string
		for _, n := range allowed {
			got = append(got, n.String())
		}
		if strings.Join(got, " ") != strings.Join(tc.allowed, " ") || denied != tc.denied {
			t.Errorf("judgeName(%q) = %v, %v, want %v, %v", tc.name, got, denied, tc.allowed, tc.denied)
		}
	}
	var nilPolicy *Egress
	if allowed, denied := nilPolicy.judgeName("x.test"); allowed != nil || denied {
		t.Error("a nil policy judged a name")
	}
}

// TestEgressGrants: an address an allowed name resolved to is permitted
// (at the entry's port only, if it has one) over the allow list's default
// and a catch-all deny, never over a narrower deny prefix.
func TestEgressGrants(t *testing.T) {
	a := netip.MustParseAddr
	for _, tc := range []struct {
		name        string
		allow, deny []netip.Prefix
		grant       string
		port        uint16 // of the grant; 0 = any
		addr        string
		to          uint16
		before      bool // permitted without the grant
		want        bool
	}{
		{"names-only allow list", nil, nil, "192.0.2.1", 0, "192.0.2.1", 80, false, true},
		{"other address still denied", nil, nil, "192.0.2.1", 0, "192.0.2.2", 80, false, false},
		{"port of the entry", nil, nil, "192.0.2.1", 443, "192.0.2.1", 443, false, true},
		{"other port denied", nil, nil, "192.0.2.1", 443, "192.0.2.1", 80, false, false},
		{"catch-all deny yields", nil, prefixes("0.0.0.0/0", "::/0"), "192.0.2.1", 0, "192.0.2.1", 80, false, true},
		{"narrow deny holds (rebinding)", nil, prefixes("0.0.0.0/0", "127.0.0.0/8"), "127.0.0.1", 0, "127.0.0.1", 80, false, false},
		{"unspecified is the granted loopback", nil, prefixes("0.0.0.0/0"), "127.0.0.1", 0, "0.0.0.0", 80, false, true},
		{"v4-mapped grant is v4", nil, prefixes("0.0.0.0/0"), "::ffff:192.0.2.1", 0, "192.0.2.1", 80, false, true},
		{"v6", nil, prefixes("::/0"), "2001:db8::1", 0, "2001:db8::1", 80, false, true},
		{"allow prefix unaffected", prefixes("198.51.100.0/24"), nil, "192.0.2.1", 0, "198.51.100.7", 80, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &Egress{Allow: tc.allow, Deny: tc.deny, AllowNames: names(t, "api.test")}
			if got := e.Permits(a(tc.addr), tc.to); got != tc.before {
				t.Errorf("before the grant: Permits(%s, %d) = %v, want %v", tc.addr, tc.to, got, tc.before)
			}
			e.grants.add(a(tc.grant), tc.port)
			if got := e.Permits(a(tc.addr), tc.to); got != tc.want {
				t.Errorf("Permits(%s, %d) = %v, want %v", tc.addr, tc.to, got, tc.want)
			}
		})
	}

	// Deny names block no address; a policy of deny names alone permits all.
	e := &Egress{DenyNames: names(t, "*.test")}
	if !e.Permits(a("192.0.2.1"), 80) {
		t.Error("a deny-names-only policy denied an address")
	}
}

// TestGrantsBounded: a guest keeps at most maxGrants grants, dropping the
// oldest granted first; a grant made again is new again.
func TestGrantsBounded(t *testing.T) {
	var g grants
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}) }
	for i := range maxGrants {
		g.add(addr(i), 443)
	}
	g.add(addr(0), 443) // refreshed: addr(1) is now the oldest
	g.add(addr(maxGrants), 443)
	if g.len() != maxGrants {
		t.Fatalf("%d grants held, want %d", g.len(), maxGrants)
	}
	for i, want := range map[int]bool{0: true, 1: false, 2: true, maxGrants: true} {
		if got := g.has(addr(i), 443); got != want {
			t.Errorf("has(%s) = %v, want %v", addr(i), got, want)
		}
	}
	if g.has(addr(2), 80) {
		t.Error("a grant for port 443 permits port 80")
	}
}

// TestNameserverNotGranted: under a policy that denies every address, an
// allowed name that resolved to the nameserver's address does not make
// the nameserver usable for other names (their queries would carry the
// guest's data out); the allowed name's own queries still go.
func TestNameserverNotGranted(t *testing.T) {
	ns := netip.MustParseAddr("127.0.0.1")
	e := &Egress{Deny: prefixes("0.0.0.0/0", "::/0"), AllowNames: names(t, "loop.test")}
	e.grants.add(ns, 0) // loop.test resolved to 127.0.0.1
	if !e.Permits(ns, 8080) {
		t.Fatal("the granted address itself is denied")
	}
	if e.queryPermitted(ns, "secret.exfil.test") {
		t.Error("a query for another name may go to the granted nameserver address")
	}
	if !e.queryPermitted(ns, "loop.test") {
		t.Error("the allowed name's own query may not go to the nameserver")
	}
	conf := filepath.Join(wintest.TempDir(t), "resolv.conf") // Wine cannot remove a t.TempDir
	if err := os.WriteFile(conf, []byte("nameserver 127.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &Resolver{ResolvConf: conf, Egress: e}
	if got := r.nameservers(false); len(got) != 0 {
		t.Errorf("nameservers for a name not allowed: %v, want none", got)
	}
	if got := r.nameservers(true); len(got) != 1 {
		t.Errorf("nameservers for an allowed name: %v, want 127.0.0.1:53", got)
	}
}
