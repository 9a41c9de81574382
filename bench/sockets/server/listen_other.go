//go:build !wasip1

package main

import (
	"fmt"
	"net"
)

// listen opens a TCP listener with the host's socket API.
func listen(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return l, nil
}
