package cni

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"golang.org/x/sys/unix"
)

// netnsInside dials from a thread switched into a network namespace.
type netnsInside struct{ ns.NetNS }

// openInside holds the namespace at nsPath open for a Forwarder.
func openInside(nsPath string) (inside, error) {
	n, err := ns.GetNS(nsPath)
	if err != nil {
		return nil, err
	}
	return netnsInside{n}, nil
}

// dialTimeout bounds an inside connect (an app that does not accept).
const dialTimeout = 10 * time.Second

// dial connects to addr (an IP and port) inside the namespace. Only the
// socket is made on the thread switched into it; the connect is waited
// for by the runtime's poller, as any other, so a connection an app is
// slow to take holds no thread (each waiting on a locked one, clients
// could make the forwarder hold thousands).
func (n netnsInside) dial(network, addr string, stop <-chan struct{}) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, err
	}
	typ := unix.SOCK_STREAM
	if network == "udp" {
		typ = unix.SOCK_DGRAM
	}
	family, sa := unix.AF_INET6, unix.Sockaddr(&unix.SockaddrInet6{Addr: ap.Addr().As16(), Port: int(ap.Port())})
	if ap.Addr().Is4() {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}
	}
	fd := -1
	if err := n.Do(func(ns.NetNS) (err error) {
		fd, err = unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		return err
	}); err != nil {
		return nil, fmt.Errorf("dial %s %s: %w", network, addr, err)
	}
	f := os.NewFile(uintptr(fd), "inside") // non-blocking: in the poller
	defer f.Close()                        // the conn has a descriptor of its own
	if err := connectPolled(f, sa, stop); err != nil {
		return nil, fmt.Errorf("dial %s %s: %w", network, addr, err)
	}
	return net.FileConn(f)
}

// connectPolled connects f, a non-blocking socket, to sa, waiting for an
// outcome through the poller for dialTimeout at most, or until stop is
// closed.
func connectPolled(f *os.File, sa unix.Sockaddr, stop <-chan struct{}) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var cerr error
	if err := rc.Control(func(fd uintptr) { cerr = unix.Connect(int(fd), sa) }); err != nil {
		return err
	}
	if cerr == nil {
		return nil
	}
	if !errors.Is(cerr, unix.EINPROGRESS) {
		return cerr
	}
	f.SetWriteDeadline(time.Now().Add(dialTimeout))
	waiting := make(chan struct{})
	defer close(waiting)
	go func() {
		select {
		case <-stop:
			f.SetWriteDeadline(time.Unix(1, 0)) // ends the wait
		case <-waiting:
		}
	}()
	werr := rc.Write(func(fd uintptr) bool {
		// Writable may be stale (an unconnected socket polls as hung
		// up): done only once there is an error or a peer, as net's
		// own connect decides.
		errno, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR)
		switch {
		case err != nil:
			cerr = err
		case errno != 0:
			cerr = unix.Errno(errno)
		default:
			if _, err := unix.Getpeername(int(fd)); err != nil {
				return false // still connecting
			}
			cerr = nil
		}
		return true
	})
	if werr != nil {
		return werr // the deadline
	}
	return cerr
}
