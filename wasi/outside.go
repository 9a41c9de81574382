package wasi

import (
	"net/netip"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// Outside carries a guest's traffic to addresses outside its network
// namespace (which routes only to itself) through sockets made in the
// host's namespace: a socket the guest has not bound moves to a host socket
// at its first connect or send_to outside. Nothing goes to an address in
// Blocked unless an allow entry of the egress policy names it; Inside
// addresses stay in the namespace. With HostResolver, sock_getaddrinfo's
// queries go through host sockets too (the resolv.conf is the host's, so
// its nameservers, a 127.0.0.53 stub included, are the host's).
type Outside struct {
	// Socket returns a new socket(2) of the host's namespace, made as
	// HostSocket says: a stream socket connecting to its destination, a
	// datagram socket bound to a port of its own.
	Socket func(HostSocket) (int, error)
	Inside []netip.Prefix
	// Blocked returns the blocked addresses as they are now (the host's
	// change; Socket's maker may send a newer list with a socket).
	Blocked      func() []netip.Prefix
	HostResolver bool
}

// HostSocket is what Outside.Socket is asked for (see its fields).
type HostSocket = sys.HostSocket
