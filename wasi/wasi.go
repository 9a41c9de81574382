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
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"golang.org/x/sys/unix"

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
	// Stdin, Stdout and Stderr are duplicated for the guest; nil is /dev/null.
	Stdin, Stdout, Stderr *os.File
	// Preopens become fds 3, 4, ... in order.
	Preopens []Preopen
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

// Host is one instantiated host module and the state of the guest using it.
type Host struct {
	sys  *sys.System
	args []string
	env  []string
	rand io.Reader
	mod  api.Module
	// poller makes poll_oneoff wait in the kernel, cancellable by ctx.
	poller *sys.Poller
	// epoll is the edge-triggered state of epoll_oneoff.
	epoll *sys.EdgePoller
	// resolver answers sock_getaddrinfo.
	resolver *sys.Resolver
	// pollSlots is poll_oneoff's scratch space (see pollSet).
	pollSlots []int32
	// iovs, subs, pollFDs and timers are reused by every call (a guest is
	// single-threaded), so the hot calls allocate nothing: readIovecs's
	// views and poll_oneoff's decoded subscriptions, poll set and deadlines.
	iovs    [][]byte
	subs    []pollSub
	pollFDs []unix.PollFd
	timers  []sys.Timer
	// signals are the guest's subscriptions (wasmrun.signal_*, signal.go).
	signals *sys.Signals
	// instance is Config.Instance; ext is the ExtModuleName module when
	// the guest imports it; compiled are the host modules an instance
	// compiled (instance.go).
	instance   string
	ext        api.Module
	compiled   []wazero.CompiledModule
	subscribed func(sig int) // Config.Subscribed
}

// Instantiate registers a wasi_snapshot_preview1 module in r shaped for
// guest's imports, and returns it. Instantiate the guest afterwards, then
// Close the Host. An import wasmrun cannot satisfy is an *ImportError.
func Instantiate(ctx context.Context, r wazero.Runtime, guest wazero.CompiledModule, cfg Config) (h *Host, err error) {
	funcs, err := selectFuncs(guest)
	if err != nil {
		return nil, err
	}
	if err := validateStrings("argument", cfg.Args); err != nil {
		return nil, err
	}
	if err := validateStrings("environment variable", cfg.Env); err != nil {
		return nil, err
	}
	egress, err := cfg.Egress.sys()
	if err != nil {
		return nil, err
	}
	preopens := make([]sys.Preopen, len(cfg.Preopens))
	for i, p := range cfg.Preopens {
		preopens[i] = sys.Preopen{HostPath: p.HostPath, GuestPath: p.GuestPath, ReadOnly: p.ReadOnly}
	}
	s, err := sys.New(cfg.Stdin, cfg.Stdout, cfg.Stderr, preopens)
	if err != nil {
		return nil, err
	}
	h = &Host{sys: s, args: cfg.Args, env: cfg.Env, rand: cfg.Rand, instance: cfg.Instance, subscribed: cfg.Subscribed}
	s.ReusePort = cfg.ReusePort
	s.VPorts = cfg.VirtualPorts
	h.poller = sys.NewPoller() // holds no descriptor until a wait needs one
	h.epoll = sys.NewEdgePoller()
	s.Egress = egress
	h.resolver = &sys.Resolver{ResolvConf: cfg.ResolvConf, Hosts: cfg.Hosts, Egress: s.Egress}
	if o := cfg.Outside; o != nil {
		s.Outside = &sys.Outside{Socket: o.Socket, Inside: o.Inside, Blocked: o.Blocked}
		h.resolver.Dial = s.Outside.Dialer(o.HostResolver)
	}
	if vp := cfg.VirtualPorts; vp != nil {
		h.resolver.Dial = vp.NameserverDial()
	}
	if cfg.SocketEvents != nil {
		s.Events = socketEvents(cfg.SocketEvents)
		h.resolver.Events = s.Events
	}
	if h.rand == nil {
		h.rand = rand.Reader
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := s.InsertListeners(cfg.Listeners); err != nil {
		return nil, err
	}

	b := r.NewHostModuleBuilder(h.moduleName(ModuleName))
	for name, f := range funcs {
		b.NewFunctionBuilder().
			WithGoModuleFunction(f.goFunc(h), f.paramTypes, f.resultTypes()).
			WithParameterNames(f.paramNames...).
			WithName(name).
			Export(name)
	}
	h.mod, err = h.instantiateHost(ctx, r, b)
	if err != nil {
		return nil, fmt.Errorf("instantiate %s: %w", ModuleName, err)
	}
	if err := h.instantiateExt(ctx, r, guest); err != nil {
		return nil, err
	}
	return h, nil
}

// Close releases every descriptor the guest still holds and the host module.
func (h *Host) Close(ctx context.Context) error {
	h.sys.Close()
	h.poller.Close()
	h.epoll.Close()
	h.signals.Close()
	if h.ext != nil {
		h.ext.Close(ctx)
	}
	var err error
	if h.mod != nil {
		err = h.mod.Close(ctx)
	}
	for _, c := range h.compiled {
		c.Close(ctx)
	}
	return err
}

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
