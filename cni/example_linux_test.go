package cni_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"

	"github.com/wasmrun/wasmrun/cni"
)

// A namespace with loopback and a forward of the host's 127.0.0.1:8080 to
// port 3000 inside; the server socket is made inside with Do.
func Example() {
	ctx := context.Background()
	m, err := cni.New(cni.Config{
		Prefix: "wasmrun",
		Log:    func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) },
	})
	if err != nil {
		log.Fatal(err)
	}
	m.GC(ctx, "") // leftovers of crashed runs
	fw, _ := cni.ParseForward("127.0.0.1:8080:3000")
	n, err := m.Setup(ctx, cni.Request{Mode: cni.ModeNew, ID: "abc", Forwards: []cni.Forward{fw}})
	if err != nil {
		log.Fatal(err) // e.g. "create namespace wasmrun-abc: port 8080/tcp on the host is already in use"
	}
	defer n.Teardown(ctx)
	var l net.Listener
	if err := n.Do(func() (err error) { l, err = net.Listen("tcp", ":3000"); return }); err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	resolv, hosts := cni.ResolvConf(n.Name)
	fmt.Println(n.Path, n.Addrs, resolv, hosts)
}
