// Command server is the guest of the socket benchmarks (bench/sockets.sh):
// a TCP echo server and an HTTP hello server in one program, built both
// natively and for GOOS=wasip1 from the same source.
//
//	server ECHOADDR HTTPADDR   listen on both addresses (net.Listen natively,
//	                           the WasmEdge socket API via
//	                           github.com/stealthrocket/net on wasip1)
//	server --fd3               serve echo on the preopened listener at fd 3
//	                           and HTTP on fd 4 (wasmrun run --listen,
//	                           wazero run -listen)
//
// Built for wasip1 with -tags fd3only, it leaves out stealthrocket/net
// (only --fd3 works): stock wazero cannot instantiate a module that
// imports the sock_* functions it lacks.
//
// It prints "ready" on stdout once both listeners accept, then serves until
// it is killed. The echo loop is an explicit Read/Write with a 32 KiB
// buffer, so the native build does the same syscalls as the guest (io.Copy
// would splice natively).
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	var echoL, httpL net.Listener
	var err error
	switch {
	case len(args) == 1 && args[0] == "--fd3":
		if echoL, err = fileListener(3); err == nil {
			httpL, err = fileListener(4)
		}
	case len(args) == 2:
		if echoL, err = listen(args[0]); err == nil {
			httpL, err = listen(args[1])
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: server ECHOADDR HTTPADDR | server --fd3")
		return 2
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "server: %v\n", err)
		return 1
	}
	go serveEcho(echoL)
	fmt.Println("ready")
	err = http.Serve(httpL, http.HandlerFunc(hello))
	fmt.Fprintf(os.Stderr, "server: serve http: %v\n", err)
	return 1
}

// fileListener wraps a preopened listening socket. Go's netpoller on
// wasip1 needs it non-blocking.
func fileListener(fd int) (net.Listener, error) {
	if err := syscall.SetNonblock(fd, true); err != nil {
		return nil, fmt.Errorf("set nonblock on fd %d: %w", fd, err)
	}
	l, err := net.FileListener(os.NewFile(uintptr(fd), fmt.Sprintf("listener%d", fd)))
	if err != nil {
		return nil, fmt.Errorf("wrap listener fd %d: %w", fd, err)
	}
	return l, nil
}

func serveEcho(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			fmt.Fprintf(os.Stderr, "server: accept echo: %v\n", err)
			os.Exit(1)
		}
		go echo(c)
	}
}

func echo(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				fmt.Fprintf(os.Stderr, "server: echo write: %v\n", werr)
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				fmt.Fprintf(os.Stderr, "server: echo read: %v\n", err)
			}
			return
		}
	}
}

var helloBody = []byte("hello\n")

func hello(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.Write(helloBody)
}
