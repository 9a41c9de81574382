package sys

import (
	"cmp"
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// VirtualPorts is one app's own port space on the host's network: the
// "simulated" isolation of a system without network namespaces (and of
// Linux when asked for). The app's sockets are host sockets, but a port P
// it binds on any or a loopback address is a free port H the host picks on
// its loopback (127.0.0.1 or ::1), and the table records P -> H:
//
//   - getsockname reports the address the guest bound (P), the peer of a
//     connection and the sender of a datagram from H are reported as P;
//   - a connect or send_to to a loopback or unspecified address at P goes
//     to H; at a port the app does not hold it is ECONNREFUSED (a datagram
//     may still answer a loopback sender the app heard from: see Heard);
//   - everything else goes out as from the host, except to Blocked
//     addresses (the host's own, its bridges) unless an allow entry of the
//     egress policy names them: EHOSTUNREACH, as in a namespace of its own.
//
// The table lives in the container process, with the app's sockets, so it
// is always exact (a port is given back when its socket is closed); the
// creator reaches the app's ports by asking that process to dial them
// (Dial, over the forwarder's dial socket pair), never by host port, and a
// copy of the table is published for `ps` through Changed. One table
// serves every guest of the process.
type VirtualPorts struct {
	// Blocked are never reached unless an allow entry names them.
	Blocked []netip.Prefix
	// Current, when set, is the block list as it is now (the host's
	// addresses change while the app runs), asked when a socket first
	// goes out of loopback; it then replaces Blocked. A socket already
	// out uses the list the last ask returned, so a datagram costs no
	// system call for it (as a namespaced app's host socket, which
	// brings the list when it is made).
	Current func() []netip.Prefix
	last    atomic.Pointer[[]netip.Prefix]
	// Changed, when set, is given the table after each bind and release,
	// on the guest's thread.
	Changed func([]VirtualPort)
	// Offline: the app has no way out (outbound = false), so no name
	// query leaves it either (NameserverDial); the host's are otherwise
	// its own, as the host's network is.
	Offline bool

	mu      sync.Mutex
	ports   map[vkey]*vslot
	byHost  map[hkey]uint16              // host port -> guest port
	bySock  map[*Socket]vbinding         // what each socket holds
	heard   map[netip.AddrPort]time.Time // loopback datagram senders (unmapped), last heard
	sockets int                          // open ones, counted (take)
}

// VirtualPort is one entry of the table: the guest's Proto port Port is
// the host socket at Host.
type VirtualPort struct {
	Proto string // "tcp" or "udp"
	Port  uint16
	Host  netip.AddrPort
}

// heardFor is how long a loopback datagram sender may be answered after it
// was last heard from (conntrack's UDP stream timeout).
const heardFor = 2 * time.Minute

// vkey is a guest port; hkey a host port on loopback (v6: ::1, else
// 127.0.0.1, also IPv4-mapped).
type (
	vkey struct {
		typ  SockType
		port uint16
	}
	hkey struct {
		typ  SockType
		v6   bool
		port uint16
	}
)

// vslot is what holds a guest port: the host address its IPv4 side
// (127.0.0.1 or ::ffff:127.0.0.1) and IPv6 side (::1, or ::ffff:127.0.0.1
// for a dual-stack socket) go to; the zero AddrPort is a free side.
type vslot struct{ side [2]netip.AddrPort }

// vbinding is a socket's hold on the table: the guest address it bound,
// and which sides of that port.
type vbinding struct {
	guest Addr
	sides [2]bool
}

// blocked is the block list for sock's next destination out of
// loopback: Current() at its first, the last list after; Blocked without
// Current.
func (v *VirtualPorts) blocked(sock *Socket) []netip.Prefix {
	if v.Current == nil {
		return v.Blocked
	}
	if l := v.last.Load(); l != nil && sock.sentOut {
		return *l
	}
	l := v.Current()
	v.last.Store(&l)
	sock.sentOut = true
	return l
}

// NewVirtualPorts returns an empty table.
func NewVirtualPorts(blocked []netip.Prefix, changed func([]VirtualPort)) *VirtualPorts {
	return &VirtualPorts{Blocked: blocked, Changed: changed}
}

func protoName(t SockType) string {
	if t == SockDgram {
		return "udp"
	}
	return "tcp"
}

func hostKey(t SockType, ap netip.AddrPort) hkey {
	return hkey{typ: t, v6: !ap.Addr().Unmap().Is4(), port: ap.Port()}
}

// MaxVirtualPorts bounds the sockets one app under simulated isolation
// opens (accepted connections aside): each may take a port of the host's,
// by a bind (a port of the app's, or any address and port 0), a send or a
// connect, and the host has about 28,000 to give out
// (ip_local_port_range), for its own services too.
const MaxVirtualPorts = 1024

// take counts a socket the app opens, false when it has MaxVirtualPorts.
func (v *VirtualPorts) take(sock *Socket) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.sockets >= MaxVirtualPorts {
		return false
	}
	v.sockets++
	sock.counted = true
	return true
}

// forgetHeard forgets the senders heard from at host port port: a socket
// of the app's own that held it is closed, and whatever binds the port
// next was never heard from (the app could otherwise have a datagram of
// its own "heard", to send to a service that takes the port later).
func (v *VirtualPorts) forgetHeard(port uint16) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for k := range v.heard {
		if k.Port() == port {
			delete(v.heard, k)
		}
	}
}

// free reports whether the sides of guest port k are free.
func (v *VirtualPorts) free(k vkey, sides [2]bool) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	sl := v.ports[k]
	return sl == nil || !(sides[0] && sl.side[0].IsValid() || sides[1] && sl.side[1].IsValid())
}

// hold records that sock, bound as guest, holds the sides of guest port
// k at host. It fails (false) if another socket took them meanwhile.
func (v *VirtualPorts) hold(sock *Socket, k vkey, sides [2]bool, guest Addr, host netip.AddrPort) bool {
	v.mu.Lock()
	if v.ports == nil {
		v.ports, v.byHost, v.bySock = map[vkey]*vslot{}, map[hkey]uint16{}, map[*Socket]vbinding{}
	}
	sl := v.ports[k]
	if sl == nil {
		sl = &vslot{}
		v.ports[k] = sl
	}
	for i, on := range sides {
		if on && sl.side[i].IsValid() {
			v.mu.Unlock()
			return false
		}
	}
	for i, on := range sides {
		if on {
			sl.side[i] = host
		}
	}
	v.byHost[hostKey(k.typ, host)] = k.port
	v.bySock[sock] = vbinding{guest: guest, sides: sides}
	v.mu.Unlock()
	v.changed()
	return true
}

// Release gives back what sock holds (it is being closed).
func (v *VirtualPorts) Release(sock *Socket) {
	v.mu.Lock()
	if sock.counted {
		v.sockets--
		sock.counted = false
	}
	b, ok := v.bySock[sock]
	if !ok {
		v.mu.Unlock()
		return
	}
	delete(v.bySock, sock)
	k := vkey{typ: sock.Type, port: b.guest.Port}
	if sl := v.ports[k]; sl != nil {
		for i, on := range b.sides {
			if on {
				delete(v.byHost, hostKey(k.typ, sl.side[i]))
				sl.side[i] = netip.AddrPort{}
			}
		}
		if !sl.side[0].IsValid() && !sl.side[1].IsValid() {
			delete(v.ports, k)
		}
	}
	v.mu.Unlock()
	v.changed()
}

// NameserverDial is the resolver's way to its nameservers: nil (the
// host's way) unless Offline, then none.
func (v *VirtualPorts) NameserverDial() func(ctx context.Context, network, addr string) (net.Conn, error) {
	if !v.Offline {
		return nil
	}
	return func(_ context.Context, network, _ string) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errOffline}
	}
}

// errOffline is a name query of an app without outbound traffic.
var errOffline = errors.New("the app has no outbound traffic (outbound = false)")

// releasePorts gives back the ports f holds (it is being closed).
func (s *System) releasePorts(f *File) {
	if s.VPorts != nil && f.Sock != nil {
		if f.Sock.Type == SockDgram && f.Sock.Family != AFUnix {
			if la, errno := s.localAddr(f); errno == 0 && la.Port != 0 {
				s.VPorts.forgetHeard(la.Port)
			}
		}
		s.VPorts.Release(f.Sock)
	}
}

// bound returns the guest address sock bound, if it holds a port.
func (v *VirtualPorts) bound(sock *Socket) (Addr, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	b, ok := v.bySock[sock]
	return b.guest, ok
}

// unbound reports whether sock holds no port of the app's (a client's
// socket, numbered by the host).
func (v *VirtualPorts) unbound(sock *Socket) bool {
	_, ok := v.bound(sock)
	return !ok
}

// Lookup returns the host address of the guest's port (typ, port) for a
// destination of IPv6 (::1, ::) or IPv4, if the app holds it.
func (v *VirtualPorts) Lookup(typ SockType, port uint16, v6 bool) (netip.AddrPort, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	sl := v.ports[vkey{typ: typ, port: port}]
	if sl == nil {
		return netip.AddrPort{}, false
	}
	i := 0
	if v6 {
		i = 1
	}
	return sl.side[i], sl.side[i].IsValid()
}

// GuestPort returns the guest port of a loopback host address of the
// app's (ok false: not one of its ports).
func (v *VirtualPorts) GuestPort(typ SockType, host netip.AddrPort) (uint16, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	p, ok := v.byHost[hostKey(typ, host)]
	return p, ok
}

// Heard records a loopback address a datagram came from: the app may
// answer it for heardFor (a forwarder's session, its own client socket),
// as a stateful firewall lets replies through.
func (v *VirtualPorts) Heard(from netip.AddrPort, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.heard == nil {
		v.heard = map[netip.AddrPort]time.Time{}
	}
	if len(v.heard) >= 4096 {
		for k, t := range v.heard {
			if now.Sub(t) > heardFor {
				delete(v.heard, k)
			}
		}
	}
	if len(v.heard) < 8192 {
		v.heard[unmapped(from)] = now
	}
}

// unmapped is ap with an IPv4-mapped address as IPv4: a sender is its
// whole address, not its port alone (another loopback address, 127.0.0.2,
// at the port of a sender heard from is another service).
func unmapped(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port())
}

// answers reports whether a datagram to the loopback address to answers a
// sender heard from lately.
func (v *VirtualPorts) answers(to netip.AddrPort, now time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	t, ok := v.heard[unmapped(to)]
	return ok && now.Sub(t) <= heardFor
}

// Table returns the entries, by protocol and port.
func (v *VirtualPorts) Table() []VirtualPort {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []VirtualPort
	for k, sl := range v.ports {
		for i, h := range sl.side {
			if h.IsValid() && (i == 0 || h != sl.side[0]) {
				out = append(out, VirtualPort{Proto: protoName(k.typ), Port: k.port, Host: h})
			}
		}
	}
	slices.SortFunc(out, func(a, b VirtualPort) int {
		return cmp.Or(cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Port, b.Port), a.Host.Compare(b.Host))
	})
	return out
}

func (v *VirtualPorts) changed() {
	if v.Changed != nil {
		v.Changed(v.Table())
	}
}
