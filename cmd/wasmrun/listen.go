package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
)

// openListeners listens on each TCP address for --listen and returns the
// sockets as files for the guest (wasi.Config.Listeners).
func openListeners(addrs []string) (files []*os.File, err error) {
	defer func() {
		if err != nil {
			closeFiles(files)
		}
	}()
	for _, addr := range addrs {
		network := "tcp"
		if host, _, _ := net.SplitHostPort(addr); net.ParseIP(host).To4() != nil {
			// An IPv4 address is an IPv4 socket, not Go's dual-stack one.
			network = "tcp4"
		}
		l, err := net.Listen(network, addr)
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return files, fmt.Errorf("--listen %s: the port is already in use by another process on the host", addr)
			}
			return files, fmt.Errorf("--listen %s: %w", addr, err)
		}
		f, err := listenerFile(l.(*net.TCPListener))
		l.Close() // f is a duplicate: the socket stays open
		if err != nil {
			return files, fmt.Errorf("--listen %s: %w", addr, err)
		}
		files = append(files, f)
	}
	return files, nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
