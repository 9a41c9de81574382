package manager

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	bootapi "github.com/containerd/containerd/api/runtime/bootstrap/v1"
	"github.com/containerd/containerd/v2/pkg/protobuf/proto"
	"github.com/containerd/containerd/v2/pkg/shim"
)

// Main runs the shim binary. The server side has no reaper of its own:
// the task service waits for each container process with exec.Cmd.Wait,
// and a SIGCHLD reaper would steal those exit statuses (ECHILD).
//
// containerd >= 2.3 starts the shim with protobuf BootstrapParams on
// stdin, which pkg/shim handles. Older daemons send the runtime options
// (or nothing) and want the plain address on stdout; for them Main turns
// the command line into BootstrapParams, runs the same start path, and
// prints the address from the result.
func Main() {
	ctx := context.Background()
	noReaper := func(c *shim.Config) { c.NoReaper = true }
	a := parseArgs(os.Args[1:])
	if a.action != "start" {
		done := func() {}
		if a.action == "" {
			done = serveStart() // the server
		}
		shim.RunShim(ctx, New(), noReaper)
		done()
		return
	}
	input, err := io.ReadAll(io.LimitReader(os.Stdin, 10<<20))
	if err != nil {
		fail(fmt.Errorf("read stdin: %w", err))
	}
	if isBootstrap(input, a.id, a.namespace) {
		setStdin(input)
		shim.RunShim(ctx, New(), noReaper)
		return
	}

	// The plain-address protocol of containerd < 2.3.
	level := bootapi.LogLevel_LOG_LEVEL_INFO
	if a.debug {
		level = bootapi.LogLevel_LOG_LEVEL_DEBUG
	}
	params, err := proto.Marshal(&bootapi.BootstrapParams{
		InstanceID:             a.id,
		Namespace:              a.namespace,
		LogLevel:               level,
		ContainerdGrpcAddress:  a.address,
		ContainerdTtrpcAddress: os.Getenv(ttrpcAddressEnv),
		ContainerdBinary:       a.publishBinary,
	})
	if err != nil {
		fail(err)
	}
	setStdin(params)
	r, w, err := os.Pipe()
	if err != nil {
		fail(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(r)
		done <- b
	}()
	shim.RunShim(ctx, New(), noReaper) // exits the process on failure
	os.Stdout = stdout
	w.Close()
	var res bootapi.BootstrapResult
	if err := proto.Unmarshal(<-done, &res); err != nil {
		fail(fmt.Errorf("read bootstrap result: %w", err))
	}
	fmt.Fprint(stdout, res.Address)
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", RuntimeName, err)
	os.Exit(1)
}

// isBootstrap reports whether stdin holds protobuf BootstrapParams for
// this shim (runtime options of an older daemon may also parse as
// BootstrapParams, so the identity must match the command line).
func isBootstrap(input []byte, id, namespace string) bool {
	if len(input) == 0 {
		return false
	}
	var p bootapi.BootstrapParams
	if err := proto.Unmarshal(input, &p); err != nil {
		return false
	}
	return p.InstanceID == id && p.Namespace == namespace
}

// setStdin replaces os.Stdin with a pipe holding b (small: fits the pipe
// buffer).
func setStdin(b []byte) {
	r, w, err := os.Pipe()
	if err != nil {
		fail(err)
	}
	go func() {
		io.Copy(w, bytes.NewReader(b))
		w.Close()
	}()
	os.Stdin = r
}

// args is what Main needs from the command line before pkg/shim parses
// it (the flags are pkg/shim's, defined in its flag set).
type args struct {
	action, id, namespace, address, publishBinary string
	debug                                         bool
}

func parseArgs(argv []string) args {
	var a args
	value := map[string]*string{"id": &a.id, "namespace": &a.namespace, "address": &a.address, "publish-binary": &a.publishBinary,
		"socket": nil, "debug-socket": nil, "bundle": nil}
	for i := 0; i < len(argv); i++ {
		s := argv[i]
		if !strings.HasPrefix(s, "-") {
			a.action = s
			break
		}
		name := strings.TrimLeft(s, "-")
		name, v, hasValue := strings.Cut(name, "=")
		if name == "debug" {
			a.debug = !hasValue || v == "true"
			continue
		}
		dst, known := value[name]
		if !known {
			continue // a boolean flag (-v, -info)
		}
		if !hasValue && i+1 < len(argv) {
			i++
			v = argv[i]
		}
		if dst != nil {
			*dst = v
		}
	}
	return a
}
