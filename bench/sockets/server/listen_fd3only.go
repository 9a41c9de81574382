//go:build wasip1 && fd3only

package main

import (
	"errors"
	"net"
)

// listen is not available in the fd3only build: it leaves out
// github.com/stealthrocket/net, whose sock_* imports stock wazero does
// not provide, so that wazero can instantiate the module. That build only
// serves preopened listeners (--fd3).
func listen(addr string) (net.Listener, error) {
	return nil, errors.New("built with -tags fd3only: only --fd3 is supported")
}
