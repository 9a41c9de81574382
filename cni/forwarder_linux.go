package cni

import (
	"net"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
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

func (n netnsInside) dial(network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func(ns.NetNS) error {
		var err error
		c, err = net.DialTimeout(network, addr, 10*time.Second)
		return err
	})
	return c, err
}
