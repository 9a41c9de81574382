//go:build !wasip1

package main

import "net"

// dial connects with the host's socket API.
func dial(network, addr string) (net.Conn, error) { return net.Dial(network, addr) }
