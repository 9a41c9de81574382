package sys

// Socket events: what the guest's sockets did, for an operator to read
// (wasmrun's --verbose). When System.Events (and Resolver.Events) is set,
// each bind, listen, connect and name lookup is reported with its result,
// and each accept that fails with anything but EAGAIN. A non-blocking
// connect (EINPROGRESS) is reported when its outcome is known: when the
// guest reads SO_ERROR, as Go, libc and Python guests do, or calls connect
// again (EISCONN). Nothing is reported for reads, writes or polls.
//
// When Events is nil, which is the default, each of those calls pays one
// nil check and nothing else: no address is formatted, no state is kept.

// Event is one socket call of the guest.
type Event struct {
	// Call is "bind", "listen", "connect", "accept" or "getaddrinfo".
	Call string
	// Target is what the call was on: an address (Addr.String), or the
	// name getaddrinfo looked up.
	Target string
	// Errno is the result.
	Errno Errno
	// Why, when set, says why the host rather than the kernel gave Errno
	// ("denied by the egress policy").
	Why string
}

// Why the host refused, for Event.Why.
const (
	whyEgress   = "denied by the egress policy"
	whyIsolated = "the host and other apps are not reachable from the app"
)

// String renders a as the guest wrote it: "0.0.0.0:3000", "[::1]:80", a
// Unix path.
func (a Addr) String() string {
	switch a.Family {
	case AFInet4, AFInet6:
		return a.AddrPort().String()
	case AFUnix:
		if a.Path == "" {
			return "(unnamed)"
		}
		return a.Path
	}
	return "(no address)"
}

// localName is fd's address for an event: what the guest would read with
// getsockname.
func (s *System) localName(fd int32) string {
	a, errno := s.SockLocalAddr(fd)
	if errno != 0 {
		return "(fd " + itoa(int(fd)) + ")"
	}
	return a.String()
}

// connectDone reports the outcome of f's connect in progress, now known
// to be errno (0: connected), and forgets it. Only called with Events set.
func (s *System) connectDone(f *File, errno Errno) {
	a := *f.Sock.connecting
	f.Sock.connecting = nil
	s.Events(Event{Call: "connect", Target: a.String(), Errno: errno})
}

// connectOutcome is what the guest read of SO_ERROR while f's connect was
// in progress: an error ends it, and so does 0 once the socket has a peer
// (before that, 0 means it is still going).
func (s *System) connectOutcome(f *File, errno Errno) {
	if errno == 0 {
		if !f.hasPeer() {
			return
		}
	}
	s.connectDone(f, errno)
}
