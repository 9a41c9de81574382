//go:build wasip1 && !fd3only

package main

import (
	"fmt"
	"net"

	"github.com/stealthrocket/net/wasip1"
)

// listen opens a TCP listener through the WasmEdge socket API
// (sock_open, sock_bind, sock_listen).
func listen(addr string) (net.Listener, error) {
	l, err := wasip1.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return l, nil
}
