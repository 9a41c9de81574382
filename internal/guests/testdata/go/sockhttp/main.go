// sockhttp is a Go guest on the WasmEdge socket extension through
// github.com/stealthrocket/net/wasip1 (build with -tags getaddrinfo to
// resolve names with sock_getaddrinfo instead of Go's resolver over UDP):
//
//	sockhttp serve ADDR        HTTP: print "listening PORT", then answer every
//	                           request with "hello PATH" until killed
//	sockhttp get URL           HTTP client: print "status CODE" and "body BODY"
//	sockhttp udp-echo ADDR N   print "listening PORT", echo N datagrams
//	sockhttp udp-client ADDR MSG  send MSG, print "got REPLY"
//	sockhttp unix-echo PATH    print "listening PATH", echo one connection
//	sockhttp dial HOST:PORT    TCP connect (names resolved as built), print
//	                           "connected IP:PORT" and "read LINE"
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"

	"github.com/stealthrocket/net/wasip1"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Println("error usage")
		os.Exit(2)
	}
	arg := os.Args[2]
	switch os.Args[1] {
	case "serve":
		l, err := wasip1.Listen("tcp", arg)
		check(err)
		fmt.Printf("listening %d\n", l.Addr().(*net.TCPAddr).Port)
		err = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello %s", r.URL.Path)
		}))
		check(err)
	case "get":
		client := &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return wasip1.DialContext(ctx, network, addr)
			},
		}}
		resp, err := client.Get(arg)
		check(err)
		body, err := io.ReadAll(resp.Body)
		check(err)
		resp.Body.Close()
		fmt.Printf("status %d\nbody %s\n", resp.StatusCode, body)
	case "udp-echo":
		n, _ := strconv.Atoi(os.Args[3])
		c, err := wasip1.ListenPacket("udp", arg)
		check(err)
		fmt.Printf("listening %d\n", c.LocalAddr().(*net.UDPAddr).Port)
		buf := make([]byte, 1500)
		for i := 0; i < n; i++ {
			m, from, err := c.ReadFrom(buf)
			check(err)
			_, err = c.WriteTo(buf[:m], from)
			check(err)
		}
		fmt.Println("done")
	case "udp-client":
		c, err := wasip1.Dial("udp", arg)
		check(err)
		_, err = c.Write([]byte(os.Args[3]))
		check(err)
		buf := make([]byte, 1500)
		m, err := c.Read(buf)
		check(err)
		fmt.Printf("got %s\n", buf[:m])
	case "unix-echo":
		l, err := wasip1.Listen("unix", arg)
		check(err)
		fmt.Printf("listening %s\n", l.Addr())
		c, err := l.Accept()
		check(err)
		_, err = io.Copy(c, c)
		check(err)
		c.Close()
		fmt.Println("done")
	case "dial":
		c, err := wasip1.Dial("tcp", arg)
		check(err)
		fmt.Printf("connected %s\n", c.RemoteAddr())
		line, err := bufio.NewReader(c).ReadString('\n')
		check(err)
		fmt.Printf("read %s", line)
	default:
		fmt.Println("error usage")
		os.Exit(2)
	}
}

func check(err error) {
	if err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(1)
	}
}
