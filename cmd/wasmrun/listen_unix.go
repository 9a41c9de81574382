//go:build linux || darwin

package main

import (
	"net"
	"os"
)

// listenerFile is a duplicate of l's socket as a file.
func listenerFile(l *net.TCPListener) (*os.File, error) { return l.File() }
