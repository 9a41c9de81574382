package manager

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	bootapi "github.com/containerd/containerd/api/runtime/bootstrap/v1"
	"github.com/wasmrun/wasmrun/internal/version"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"
)

// Main runs the shim binary, containerd-shim-wasmrun-v1. containerd runs
// it twice for every shim: the `start` action, and the `delete` action
// once the server is gone (also after a clean shutdown). Both are on the
// path of every `ctr run` and every pod, so this binary is small: it
// starts the server (ServerProgram, next to it), answers a delete whose
// task was removed completely from the bundle's files, and -v. Everything
// else (a delete with something left to clean up, -info) is the server
// program's, which this process becomes.
//
// containerd >= 2.3 starts the shim with protobuf BootstrapParams on
// stdin and reads a protobuf BootstrapResult; older daemons send the
// runtime options (or nothing) and read the plain address. Main turns
// their command line into BootstrapParams and runs the same start.
func Main() {
	a := parseArgs(os.Args[1:])
	if a.version {
		fmt.Printf("%s:\n  Version:    %s\n  Go version: %s\n", filepath.Base(os.Args[0]), version.Version, runtime.Version())
		return
	}
	switch a.action {
	case "start":
		startAction(a)
	case "delete":
		if !deleteRemoved(a.id) {
			execServer()
		}
	default:
		execServer()
	}
}

func startAction(a args) {
	input, err := io.ReadAll(io.LimitReader(os.Stdin, 10<<20))
	if err != nil {
		fail(fmt.Errorf("read stdin: %w", err))
	}
	if params, ok := bootstrapParams(input, a.id, a.namespace); ok {
		res, err := start(params)
		if err != nil {
			fail(err)
		}
		b, err := proto.Marshal(res)
		if err != nil {
			fail(err)
		}
		os.Stdout.Write(b)
		return
	}
	// The plain-address protocol of containerd < 2.3.
	level := bootapi.LogLevel_LOG_LEVEL_INFO
	if a.debug {
		level = bootapi.LogLevel_LOG_LEVEL_DEBUG
	}
	res, err := start(&bootapi.BootstrapParams{
		InstanceID:             a.id,
		Namespace:              a.namespace,
		LogLevel:               level,
		ContainerdGrpcAddress:  a.address,
		ContainerdTtrpcAddress: os.Getenv(TTRPCAddressEnv),
		ContainerdBinary:       a.publishBinary,
	})
	if err != nil {
		fail(err)
	}
	fmt.Fprint(os.Stdout, res.Address)
}

// execServer makes this process the server program, with the same
// arguments, environment and descriptors.
func execServer() {
	server, err := serverPath()
	if err != nil {
		fail(err)
	}
	fail(fmt.Errorf("run %s: %w", server, unix.Exec(server, os.Args, os.Environ())))
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", RuntimeName, err)
	os.Exit(1)
}

// bootstrapParams returns the protobuf BootstrapParams on stdin, if they
// are this shim's (runtime options of an older daemon may also parse as
// BootstrapParams, so the identity must match the command line).
func bootstrapParams(input []byte, id, namespace string) (*bootapi.BootstrapParams, bool) {
	if len(input) == 0 {
		return nil, false
	}
	var p bootapi.BootstrapParams
	if err := proto.Unmarshal(input, &p); err != nil {
		return nil, false
	}
	return &p, p.InstanceID == id && p.Namespace == namespace
}

// args is what the shim binary needs from its command line (the flags of
// containerd's shim library, which the server parses again).
type args struct {
	action, id, namespace, address, publishBinary string
	debug, version                                bool
}

// Action is the action of a shim command line ("start", "delete"), or ""
// for the server.
func Action(argv []string) string { return parseArgs(argv).action }

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
		if name == "v" || name == "version" {
			a.version = true
			continue
		}
		dst, known := value[name]
		if !known {
			continue // a boolean flag (-info)
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
