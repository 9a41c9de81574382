// Package peerset is the set of destinations a UDP socket of a guest sent
// to: the only sources it hears when the host socket under it listens on
// every host address (the relay of an app in its own namespace, a socket
// under simulated isolation), as behind a NAT.
package peerset

import (
	"net/netip"
	"sync"
)

// Max bounds a Set (what a client's socket talks to: a few servers); past
// it, the one added first is forgotten first.
const Max = 256

// Set is a bounded set of socket addresses, kept IPv4 unmapped and without
// zone. Its zero value is empty and ready; it is safe for concurrent use.
type Set struct {
	mu   sync.Mutex
	m    map[netip.AddrPort]struct{}
	ring []netip.AddrPort // in the order added
	next int              // where the next one goes in ring, once full
}

func key(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port())
}

// Add adds ap (nothing if it is there).
func (s *Set) Add(ap netip.AddrPort) {
	ap = key(ap)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[ap]; ok {
		return
	}
	if s.m == nil {
		s.m = make(map[netip.AddrPort]struct{})
	}
	if len(s.ring) < Max {
		s.ring = append(s.ring, ap)
	} else {
		delete(s.m, s.ring[s.next])
		s.ring[s.next] = ap
		s.next = (s.next + 1) % Max
	}
	s.m[ap] = struct{}{}
}

// Has reports whether ap is in the set.
func (s *Set) Has(ap netip.AddrPort) bool {
	ap = key(ap)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[ap]
	return ok
}

// Len is how many are in the set.
func (s *Set) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
