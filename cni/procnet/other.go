//go:build !linux

package procnet

import (
	"errors"
	"net"
	"net/netip"
	"os"
)

// errUnsupported is returned by everything that needs Linux.
var errUnsupported = errors.New("network namespaces need Linux")

// Setup does nothing on this platform.
func (c Child) Setup(id string) error { return nil }

// DialSocketPair fails on this platform.
func DialSocketPair() (host, inside *os.File, err error) { return nil, nil, errUnsupported }

// ServeDial fails on this platform.
func ServeDial(f *os.File) error { return errUnsupported }

// FDDialer fails on this platform.
func FDDialer(f *os.File) (dial func(network, address string) (net.Conn, error), closeFn func() error, err error) {
	return nil, nil, errUnsupported
}

// localPrefixes: the interfaces' addresses are all BlockedFromApps knows.
func localPrefixes() ([]netip.Prefix, error) { return nil, nil }
