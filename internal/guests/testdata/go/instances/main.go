// instances is the guest of the `wasmrun os --instances` tests: a TCP
// server that says which instance it is.
//
//	instances serve ADDR   print "instance K listening ADDR" once the
//	                       socket listens (K is $WASMRUN_INSTANCE), then
//	                       for each connection write "instance K\n" and
//	                       read one command line:
//	                         exit   exit with status 3
//	                         trap   trap (wasm unreachable)
//
// The listening line goes to stdout, so tests wait for it instead of
// polling the port.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"

	"github.com/stealthrocket/net/wasip1"
)

func main() {
	if len(os.Args) < 3 || os.Args[1] != "serve" {
		fmt.Fprintln(os.Stderr, "usage: instances serve ADDR")
		os.Exit(2)
	}
	id := os.Getenv("WASMRUN_INSTANCE")
	l, err := wasip1.Listen("tcp", os.Args[2])
	if err != nil {
		fmt.Fprintf(os.Stderr, "instance %s: %v\n", id, err)
		os.Exit(1)
	}
	fmt.Printf("instance %s listening %s\n", id, l.Addr())
	for {
		c, err := l.Accept()
		if err != nil {
			fmt.Fprintf(os.Stderr, "instance %s: %v\n", id, err)
			os.Exit(1)
		}
		go serve(c, id)
	}
}

func serve(c net.Conn, id string) {
	defer c.Close()
	fmt.Fprintf(c, "instance %s\n", id)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return
	}
	switch strings.TrimSpace(line) {
	case "exit":
		os.Exit(3)
	case "trap":
		runtime.Breakpoint() // unreachable
	}
}
