package cni

import "testing"

// FuzzForward: whatever ParseForward accepts is valid, prints back to the
// same forward, and conflicts with itself; two forwards conflict (or not)
// in either order.
func FuzzForward(f *testing.F) {
	for _, s := range []string{"8080:3000", "127.0.0.1:8080:3000/tcp", "[::1]:53:53/udp", "[::]:80:80", "0.0.0.0:1:1", "[::ffff:127.0.0.1]:9:9"} {
		f.Add(s, "8080:3000")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		fa, err := ParseForward(a)
		if err != nil {
			return
		}
		if err := fa.Validate(); err != nil {
			t.Fatalf("ParseForward(%q) = %+v, which does not validate: %v", a, fa, err)
		}
		again, err := ParseForward(fa.String())
		if err != nil || again.String() != fa.String() || again.HostPort != fa.HostPort || again.GuestPort != fa.GuestPort {
			t.Fatalf("round trip of %q via %q: %+v, %v", a, fa.String(), again, err)
		}
		if fa.HostPort != 0 && ValidateForwards([]Forward{fa, fa}) == nil {
			t.Fatalf("%s twice is accepted", fa)
		}
		fb, err := ParseForward(b)
		if err != nil {
			return
		}
		if (ValidateForwards([]Forward{fa, fb}) == nil) != (ValidateForwards([]Forward{fb, fa}) == nil) {
			t.Fatalf("%s and %s conflict in one order only", fa, fb)
		}
	})
}
