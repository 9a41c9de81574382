package cni

import (
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Host ports of a kernel forward are held for its life: a socket bound,
// never listening, on each host address of the port. portmap's DNAT
// listens on nothing, so another process or app could otherwise bind the
// port's IPv6 side ([::]:P) and answer every client that tries ::1 or an
// IPv6 address first, "localhost" ones included; or bind 0.0.0.0:P while
// it is DNATed, and take the port when the app restarts. (The userspace
// forwarder's listener on the unspecified address is Go's, dual-stack:
// it holds both sides itself.) A held TCP socket refuses connections (RST, as a
// closed port); what reaches a held UDP one is never read. The kernel's
// IPv4 DNAT happens before local delivery, so a held 0.0.0.0:P takes none
// of the forward's traffic. This is the host port reservation of the
// kubelet's hostport and docker-proxy.

// heldAddrs are the host addresses to hold for forward f: all of them when
// it names none (each family's unspecified address, IPv6 only), else its
// own, and ::1 with an IPv4 loopback address.
func heldAddrs(f Forward) []netip.Addr {
	if f.HostIP != "" && f.HostIP != "0.0.0.0" {
		a, err := netip.ParseAddr(f.HostIP)
		if err != nil {
			return nil
		}
		if a = a.Unmap(); a.IsLoopback() && a.Is4() {
			// "localhost": a client may try ::1 first.
			return []netip.Addr{a, netip.IPv6Loopback()}
		}
		return []netip.Addr{a}
	}
	return []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()}
}

// holdPorts holds the host ports of kernel forwards fws (heldAddrs). It fails with a
// *PortInUseError if one is taken, holding nothing then. release closes
// what it holds; calling it twice is fine.
func holdPorts(fws []Forward) (func(), error) {
	var fds []int
	release := func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
		fds = nil
	}
	for _, f := range fws {
		if f.HostPort == 0 {
			continue
		}
		for _, a := range heldAddrs(f) {
			fd, err := holdPort(a, f.HostPort, f.Proto() == "udp")
			if errors.Is(err, unix.EAFNOSUPPORT) && a.Is6() {
				continue // no IPv6 on this host: nothing to hold
			}
			if err != nil {
				release()
				if errors.Is(err, unix.EADDRINUSE) {
					return nil, &PortInUseError{Forward: f}
				}
				return nil, fmt.Errorf("hold host port [%s]:%d/%s: %w", a, f.HostPort, f.Proto(), err)
			}
			fds = append(fds, fd)
		}
	}
	return release, nil
}

// holdPort binds a socket to a:port (IPv6 only, for an IPv6 address).
func holdPort(a netip.Addr, port uint16, udp bool) (int, error) {
	typ := unix.SOCK_STREAM
	if udp {
		typ = unix.SOCK_DGRAM
	}
	var sa unix.Sockaddr
	domain := unix.AF_INET
	if a.Is4() {
		sa = &unix.SockaddrInet4{Port: int(port), Addr: a.As4()}
	} else {
		domain = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(port), Addr: a.As16()}
	}
	fd, err := unix.Socket(domain, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if domain == unix.AF_INET6 {
		err = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
	}
	if err == nil && udp {
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1) // never read
	}
	if err == nil {
		err = unix.Bind(fd, sa)
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// holdLoopback6 holds [::1]:P for the userspace forwarder's forwards from
// an IPv4 loopback address (its listener there covers IPv4 only): a
// "localhost" client may try ::1 first. Ports already bound elsewhere
// than this process are a *PortInUseError.
func holdLoopback6(fws []Forward) (func(), error) {
	var lo []Forward
	for _, f := range fws {
		if a, err := netip.ParseAddr(f.HostIP); err == nil && a.Unmap().Is4() && a.Unmap().IsLoopback() {
			f.HostIP = "::1"
			lo = append(lo, f)
		}
	}
	return holdPorts(lo)
}
