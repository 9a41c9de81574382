package runner

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmrun/wasmrun/wasi"
)

// Instances: an app can run several instances of its module in one
// process (wasmrun os --instances). They share the prepared module's
// runtime and compiled code; each has its own wasi host modules (its fd
// table, sockets, signal subscriptions) and its own linear memory, so
// nothing one instance does to its memory reaches another. Every port an
// instance binds gets SO_REUSEPORT, so that all of them can listen on the
// app's ports and the kernel spreads connections over them.
//
// The guest modules are anonymous, as Instantiate's: wazero registers no
// name for them, so the instances never collide, and a replacement can be
// made before the one it replaces is closed. The host modules are named
// apart (wasi.Config.Instance).

// InstanceEnv is the environment variable that holds an instance's number
// (0 for the first) when an app runs more than one.
const InstanceEnv = "WASMRUN_INSTANCE"

// Instance is one instance of a prepared module.
type Instance struct {
	host   *wasi.Host
	mod    api.Module
	export string
}

// InstanceHooks are told what an instance does; nil ones cost nothing.
type InstanceHooks struct {
	// SocketEvents are its socket events (as Options.SocketEvents).
	SocketEvents func(wasi.SocketEvent)
	// Subscribed is told each signal it subscribes to
	// (wasi.Config.Subscribed).
	Subscribed func(sig int)
}

// Instance instantiates instance k of the prepared module: as Instantiate
// does, with WASMRUN_INSTANCE=k added to the environment, SO_REUSEPORT on
// the ports it binds, and hooks. Errors are Instantiate's. Run it once;
// the Prepared must not be Run, and is closed after its instances have
// ended.
func (p *Prepared) Instance(ctx context.Context, k int, hooks InstanceHooks) (*Instance, error) {
	// Its own number, in place of any the app's environment has (the
	// first of two wins in libc and Go).
	env := slices.DeleteFunc(slices.Clone(p.opts.Env), func(kv string) bool { return strings.HasPrefix(kv, InstanceEnv+"=") })
	env = append(env, InstanceEnv+"="+strconv.Itoa(k))
	host, mod, err := p.instantiate(ctx, env, hooks.SocketEvents, func(c *wasi.Config) {
		c.Instance = strconv.Itoa(k)
		c.ReusePort = true
		c.Subscribed = hooks.Subscribed
	})
	if err != nil {
		return nil, err
	}
	return &Instance{host: host, mod: mod, export: p.opts.Export}, nil
}

// Run calls the instance's export and returns its exit code as
// Prepared.Run does, then releases the instance.
func (i *Instance) Run(ctx context.Context) (int, error) {
	defer i.Close(ctx)
	return call(ctx, i.mod, i.export)
}

// Subscribed reports whether the instance's guest has subscribed to sig
// (see wasi.ExtModuleName): that signal then no longer ends it.
func (i *Instance) Subscribed(sig int) bool { return i.host.Subscribed(sig) }

// Close releases an instance that will not run (Run does it itself).
func (i *Instance) Close(ctx context.Context) {
	i.mod.Close(ctx)
	i.host.Close(ctx)
}
