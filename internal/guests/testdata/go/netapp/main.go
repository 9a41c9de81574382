// netapp is the network guest of the `wasmrun os` tests, built on the
// WasmEdge socket extension through github.com/stealthrocket/net:
//
//	netapp serve ADDR      TCP: print "listening ADDR", then for each
//	                       connection write "hello $APP_ID\n" and echo lines
//	netapp udp ADDR        UDP: print "listening ADDR", answer each datagram
//	                       with "$APP_ID: " + the datagram
//	netapp dial ADDR       TCP connect: print "connected" (exit 0),
//	                       "refused" (exit 3) or "error: ..." (exit 4)
//	netapp cat PATH        print a file (preopened directories)
//	netapp serve-dial ADDR DIAL...
//	                       serve ADDR as serve does, then dial each DIAL
//	                       and print "DIAL: " + the first line read
//	                       ("hello ID"), "refused" or "error: ...", then
//	                       "dialed", and serve on
//
// The listening line goes to stdout once the socket is bound, so tests wait
// for it instead of polling the port.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"github.com/stealthrocket/net/wasip1"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: netapp serve|udp|dial|cat ARG")
		os.Exit(2)
	}
	id := os.Getenv("APP_ID")
	switch arg := os.Args[2]; os.Args[1] {
	case "serve":
		l, err := wasip1.Listen("tcp", arg)
		if err != nil {
			fail(err)
		}
		fmt.Printf("listening %s\n", l.Addr())
		for {
			c, err := l.Accept()
			if err != nil {
				fail(err)
			}
			go serve(c, id)
		}
	case "udp":
		c, err := wasip1.ListenPacket("udp", arg)
		if err != nil {
			fail(err)
		}
		fmt.Printf("listening %s\n", c.LocalAddr())
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				fail(err)
			}
			if _, err := c.WriteTo(append([]byte(id+": "), buf[:n]...), from); err != nil {
				fail(err)
			}
		}
	case "dial":
		c, err := wasip1.Dial("tcp", arg)
		switch {
		case err == nil:
			c.Close()
			fmt.Println("connected")
		case errors.Is(err, syscall.ECONNREFUSED):
			fmt.Println("refused")
			os.Exit(3)
		default:
			fmt.Printf("error: %v\n", err)
			os.Exit(4)
		}
	case "serve-dial":
		l, err := wasip1.Listen("tcp", arg)
		if err != nil {
			fail(err)
		}
		fmt.Printf("listening %s\n", l.Addr())
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					fail(err)
				}
				go serve(c, id)
			}
		}()
		for _, addr := range os.Args[3:] {
			fmt.Printf("%s: %s\n", addr, firstLine(addr))
		}
		fmt.Println("dialed")
		select {}
	case "cat":
		b, err := os.ReadFile(arg)
		if err != nil {
			fail(err)
		}
		os.Stdout.Write(b)
	default:
		fmt.Fprintf(os.Stderr, "netapp: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

func serve(c net.Conn, id string) {
	defer c.Close()
	fmt.Fprintf(c, "hello %s\n", id)
	s := bufio.NewScanner(c)
	for s.Scan() {
		fmt.Fprintf(c, "%s\n", s.Text())
	}
}

// firstLine dials addr over TCP and returns the first line it sends,
// "refused" or "error: ...".
func firstLine(addr string) string {
	c, err := wasip1.Dial("tcp", addr)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case err != nil:
		return "error: " + err.Error()
	}
	defer c.Close()
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "error: " + err.Error()
	}
	return line[:len(line)-1]
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "netapp: %v\n", err)
	os.Exit(1)
}
