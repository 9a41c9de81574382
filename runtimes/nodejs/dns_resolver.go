//go:build !(wasip1 && getaddrinfo)

package main

import (
	"context"
	"net"
)

// resolve uses Go's resolver in the guest (/etc/hosts and resolv.conf as
// the guest sees them, DNS over the socket extension).
func resolve(ctx context.Context, host string, _ int) ([]net.IP, error) {
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, err
	}
	ips := make([]net.IP, len(addrs))
	for i, a := range addrs {
		ips[i] = a.IP
	}
	return ips, nil
}
