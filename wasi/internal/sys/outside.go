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
	// namespace, made as HostSocket says.
	Socket func(HostSocket) (int, error)
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

// HostSocket is a host socket Outside.Socket is asked for. Its maker holds
// it to its purpose, which the container process (the guest, should it
// get out of the WebAssembly sandbox) cannot change: a stream socket comes
// connecting to To, a destination the maker checked, and never completes
// a connection to anything else; a datagram socket comes bound to a port
// of its own.
type HostSocket struct {
	// Domain is AF_INET or AF_INET6, Type SOCK_STREAM or SOCK_DGRAM.
	Domain, Type int
	// V6Only is IPV6_V6ONLY of an AF_INET6 socket, set before it is
	// connected or bound.
	V6Only bool
	// To is a stream socket's destination.
	To netip.AddrPort
}
