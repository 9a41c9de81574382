package peerset

import (
	"net/netip"
	"testing"
)

// TestSetBounded: a Set holds at most Max, the first added forgotten
// first, one added again not counted twice; the address forms of one peer
// (IPv4-mapped) are one.
func TestSetBounded(t *testing.T) {
	var s Set
	at := func(i int) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 53)
	}
	for i := range Max + 10 {
		s.Add(at(i))
		s.Add(at(i))
	}
	if s.Len() != Max {
		t.Errorf("%d remembered, want %d", s.Len(), Max)
	}
	if s.Has(at(0)) || s.Has(at(9)) || !s.Has(at(10)) || !s.Has(at(Max+9)) {
		t.Error("not the first added forgotten first")
	}
	if !s.Has(netip.AddrPortFrom(netip.AddrFrom16(at(Max+9).Addr().As16()), 53)) {
		t.Error("an IPv4-mapped address is not its IPv4 peer")
	}
}
