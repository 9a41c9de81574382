// http-server is the example wasmrun app: a Go HTTP server compiled to
// WASI (GOOS=wasip1) that listens with the WasmEdge socket extension
// through github.com/stealthrocket/net. Run it isolated, forwarded to the
// host:
//
//	make demo
//	wasmrun os examples/http-server --forward 8080:3000
//	curl 127.0.0.1:8080
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/stealthrocket/net/wasip1"
)

func main() {
	addr := ":3000"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	l, err := wasip1.Listen("tcp", addr)
	if err != nil {
		log.Fatalf("listen %s: %v", addr, err)
	}
	name := os.Getenv("APP_NAME")
	if name == "" {
		name = "wasmrun"
	}
	fmt.Fprintf(os.Stderr, "http-server: listening on %s\n", l.Addr())
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello from %s, an isolated WebAssembly app! (%s %s)\n", name, r.Method, r.URL.Path)
	})
	log.Fatal(http.Serve(l, nil))
}
