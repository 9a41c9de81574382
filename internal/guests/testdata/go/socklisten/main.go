// socklisten serves HTTP with nothing but the standard library, on the
// listening socket the host preopened at fd 3 (wasmrun run --listen):
// net.FileListener(os.NewFile(3, "")). It prints "serving" once the
// listener is set up and answers every request with "hello PATH".
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"syscall"
)

func main() {
	// Go's netpoller on wasip1 needs a non-blocking descriptor.
	if err := syscall.SetNonblock(3, true); err != nil {
		fmt.Printf("error setnonblock: %v\n", err)
		os.Exit(1)
	}
	l, err := net.FileListener(os.NewFile(3, "listener"))
	if err != nil {
		fmt.Printf("error filelistener: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("serving")
	err = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", r.URL.Path)
	}))
	fmt.Printf("error serve: %v\n", err)
	os.Exit(1)
}
