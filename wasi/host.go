package wasi

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

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
	pollFDs []sys.PollFd
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
		if check := cfg.OpenedPreopen; check != nil {
			preopens[i].Opened = func(fd int) error { return check(p, fd) }
		}
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
		if err := h.setOutside(o); err != nil {
			s.Close()
			return nil, err
		}
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

// socketEvents adapts the system layer's events to fn.
func socketEvents(fn func(SocketEvent)) func(sys.Event) {
	return func(e sys.Event) {
		ev := SocketEvent{Call: e.Call, Target: e.Target, Why: e.Why}
		if e.Errno != sys.ESUCCESS {
			ev.Errno = e.Errno.Name()
		}
		fn(ev)
	}
}

// ModuleConfig returns the configuration to instantiate the guest with:
// cfg itself, since this Host's own module serves everything the guest
// gets (args, environment, stdio, files, clocks).
func (h *Host) ModuleConfig(cfg wazero.ModuleConfig) wazero.ModuleConfig { return cfg }
