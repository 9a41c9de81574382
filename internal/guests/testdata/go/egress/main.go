// egress checks the host-side egress policy from inside a guest: it listens
// on LISTEN (a loopback address of its own namespace), then dials each
// ADDR and prints one line per dial:
//
//	egress LISTEN ADDR...   "ADDR connected" | "ADDR denied" (EPERM) |
//	                        "ADDR refused" | "ADDR error: ..."
//
// Listening is never egress, so the listener works under any policy.
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"github.com/stealthrocket/net/wasip1"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: egress LISTEN ADDR...")
		os.Exit(2)
	}
	l, err := wasip1.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "listen: %v\n", err)
		os.Exit(1)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for _, addr := range os.Args[2:] {
		c, err := wasip1.Dial("tcp", addr)
		switch {
		case err == nil:
			c.Close()
			fmt.Println(addr, "connected")
		case errors.Is(err, syscall.EPERM):
			fmt.Println(addr, "denied")
		case errors.Is(err, syscall.ECONNREFUSED):
			fmt.Println(addr, "refused")
		default:
			var ne net.Error
			_ = errors.As(err, &ne)
			fmt.Println(addr, "error:", err)
		}
	}
}
