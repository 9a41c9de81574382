package sys

import "net/netip"

// Outside carries a guest's traffic to addresses outside its network
// namespace, which has no route there: at its first connect or send_to to
// such an address, a socket the guest has not bound is replaced by one
// made in the host's namespace (Socket, from the process that created the
// container), with the options the guest set on it. The guest keeps its
// descriptor and sees an ordinary socket. Addresses in Inside (its
// loopback, its own addresses) stay in the namespace, and nothing goes to
// an address in Blocked (the host itself, other apps) unless an allow
// entry of the egress policy names it.
type Outside struct {
	// Socket returns a new host socket: socket(2) in the host's
	// namespace.
	Socket func(domain, typ, proto int) (int, error)
	// Inside is as above.
	Inside []netip.Prefix
	// Blocked returns the blocked addresses as they are now: the host's
	// addresses change, and the process that makes the host sockets
	// sends the new list with the next socket (nil: none).
	Blocked func() []netip.Prefix
}

// blocked is o.Blocked(), or none.
func (o *Outside) blocked() []netip.Prefix {
	if o.Blocked == nil {
		return nil
	}
	return o.Blocked()
}
