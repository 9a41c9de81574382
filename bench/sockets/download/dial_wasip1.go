//go:build wasip1

package main

import (
	"net"

	"github.com/stealthrocket/net/wasip1"
)

// dial connects through the WasmEdge socket API.
func dial(network, addr string) (net.Conn, error) { return wasip1.Dial(network, addr) }
