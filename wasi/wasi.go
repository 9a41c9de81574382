// Package wasi is wasmrun's wasi_snapshot_preview1 host module on wazero: the
// ABI layer. It owns the host function definitions, the decoding of their
// parameters and guest memory, and the conversion of results to what the
// guest expects. The work itself is done by the system layer in
// wasi/internal/sys, which never touches guest memory.
//
// Functions are chosen per guest from the signatures it imports, so one
// module can mix the V1 and V2 shapes of the WasmEdge socket extension.
//
// This package must not know about namespaces, CNI or containers: it runs a
// guest in whatever network namespace the calling thread's process is in.
package wasi

import (
	"fmt"
	"io"
	"os"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// ErrnoName is the symbolic name of a preview1 (or socket extension)
// errno, e.g. "EBADF", as the guest's libc knows it.
func ErrnoName(errno uint32) string { return sys.Errno(errno).Name() }

// Preopen is a host directory made visible to the guest as GuestPath.
type Preopen struct {
	HostPath  string
	GuestPath string
	// ReadOnly: the guest can change nothing beneath it (EROFS), and its
	// files are opened read-only on the host.
	ReadOnly bool `json:"read_only,omitempty"`
}

// Config is what a guest sees of the world.
type Config struct {
	// Args are the guest's argv, program name first.
	Args []string
	// Env is the guest's environment as KEY=VALUE strings.
	Env []string
	// Stdin, Stdout and Stderr are duplicated for the guest; nil is /dev/null
	// (NUL on Windows).
	Stdin, Stdout, Stderr *os.File
	// Preopens become fds 3, 4, ... in order.
	Preopens []Preopen
	// OpenedPreopen, when set, judges each preopen as opened (fd is its
	// host descriptor) before the guest gets it: a path checked before
	// the open may lead elsewhere by then. An error fails Instantiate.
	OpenedPreopen func(p Preopen, fd int) error
	// Rand is the source of random_get; nil is crypto/rand.
	Rand io.Reader
	// Listeners are host sockets (listening TCP, or UDP) handed to the
	// guest after the preopens, like wasmtime's --tcplisten: with two
	// preopens the first listener is fd 5. They are duplicated; the caller
	// still owns and closes its files.
	Listeners []*os.File
	// ResolvConf and Hosts replace /etc/resolv.conf and /etc/hosts for
	// sock_getaddrinfo ("" uses the process's own files).
	ResolvConf, Hosts string
	// Egress limits the addresses sockets may connect and send to, and
	// filters getaddrinfo results; the zero value allows everything.
	Egress Egress
	// Outside, when set, carries traffic to addresses outside the
	// guest's network namespace through host sockets.
	Outside *Outside
	// VirtualPorts, when set, is the app's own port space on the host's
	// network (simulated isolation, see VirtualPorts); the guests of one
	// app share it.
	VirtualPorts *VirtualPorts
	// SocketEvents, when set, is told what the guest's sockets do: binds,
	// listens, connects, failed accepts and name lookups, with their
	// results (see SocketEvent). nil, the default, costs one nil check in
	// those calls and nothing else. It is called on the guest's thread,
	// in the middle of the call: it must not block.
	SocketEvents func(SocketEvent)
	// ReusePort sets SO_REUSEPORT on each IPv4/IPv6 socket the guest
	// binds to a port other than 0, before the bind: the instances of one
	// app (guests of one process and user) can then all bind its ports,
	// and the kernel spreads the connections over them.
	ReusePort bool
	// Instance, when not "", tells this guest's host modules apart from
	// those of the other guests of the runtime (instance.go): instantiate
	// the guest with the context Host.Imports returns.
	Instance string
	// Subscribed, when set, is told each signal the guest subscribes to
	// (ExtModuleName), on the guest's thread, after the subscription.
	Subscribed func(sig int)
}

// validateStrings refuses arguments and environment variables with a NUL
// byte, which a guest's C strings cannot carry.
func validateStrings(what string, ss []string) error {
	for _, s := range ss {
		for i := 0; i < len(s); i++ {
			if s[i] == 0 {
				return fmt.Errorf("%s %q contains a NUL byte", what, s)
			}
		}
	}
	return nil
}
