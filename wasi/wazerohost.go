package wasi

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Where wasmrun's own host module cannot run (Windows: it needs the Unix
// system layer), the host module is wazero's own wasi_snapshot_preview1, which
// has files (beneath the preopens, wazero's own path checks), stdio, clocks,
// random and a poll_oneoff that sleeps on clocks and stdin. There is no
// socket API (sock_open and the rest of the socket extension are not
// there: a guest that imports them fails to instantiate, naming the
// import), no wasmrun module (signals), no listeners, no simulated ports:
// Instantiate refuses a Config that asks for them. Config.Egress needs no
// enforcing without sockets.

// wazeroHost is wazero's preview1 module for one guest, and what the
// guest's own module configuration must carry (ModuleConfig): the Host of
// systems without wasmrun's own module (host_windows.go). It builds
// everywhere, so that its tests run on Linux.
type wazeroHost struct {
	cfg Config
	mod api.Closer
}

// errNoSockets is what a Config that needs the socket API gets.
var errNoSockets = errors.New("the WASI socket API is not implemented on this system yet")

// instantiateWazero registers wazero's wasi_snapshot_preview1 module in r.
// Then instantiate guest with ModuleConfig and Close the host.
func instantiateWazero(ctx context.Context, r wazero.Runtime, guest wazero.CompiledModule, cfg Config) (*wazeroHost, error) {
	if err := validateStrings("argument", cfg.Args); err != nil {
		return nil, err
	}
	if err := validateStrings("environment variable", cfg.Env); err != nil {
		return nil, err
	}
	switch {
	case len(cfg.Listeners) > 0:
		return nil, fmt.Errorf("listening sockets: %w", errNoSockets)
	case cfg.VirtualPorts != nil, cfg.Outside != nil:
		return nil, fmt.Errorf("network isolation: %w", errNoSockets)
	case cfg.Instance != "":
		return nil, errors.New("several instances of a module are not implemented on this system yet")
	}
	for _, fn := range guest.ImportedFunctions() {
		if mod, name, _ := fn.Import(); mod == ExtModuleName {
			return nil, fmt.Errorf("import %s.%s: wasmrun's own host functions are not implemented on this system yet", mod, name)
		}
	}
	mod, err := wasi_snapshot_preview1.Instantiate(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("instantiate %s: %w", ModuleName, err)
	}
	return &wazeroHost{cfg: cfg, mod: mod}, nil
}

// ModuleConfig returns cfg with what wazero's preview1 module serves the
// guest from: its arguments, environment, stdio, preopens, clocks and
// random source.
func (h *wazeroHost) ModuleConfig(cfg wazero.ModuleConfig) wazero.ModuleConfig {
	c := h.cfg
	cfg = cfg.WithArgs(c.Args...).WithSysWalltime().WithSysNanotime().WithSysNanosleep()
	for _, kv := range c.Env {
		k, v, _ := strings.Cut(kv, "=")
		cfg = cfg.WithEnv(k, v)
	}
	if c.Stdin != nil {
		cfg = cfg.WithStdin(c.Stdin)
	}
	if c.Stdout != nil {
		cfg = cfg.WithStdout(c.Stdout)
	}
	if c.Stderr != nil {
		cfg = cfg.WithStderr(c.Stderr)
	}
	fs := wazero.NewFSConfig()
	for _, p := range c.Preopens {
		if p.ReadOnly {
			fs = fs.WithReadOnlyDirMount(p.HostPath, p.GuestPath)
		} else {
			fs = fs.WithDirMount(p.HostPath, p.GuestPath)
		}
	}
	cfg = cfg.WithFSConfig(fs)
	if c.Rand != nil {
		return cfg.WithRandSource(c.Rand)
	}
	return cfg.WithRandSource(rand.Reader)
}

// Imports returns ctx: there is one host module per runtime here.
func (h *wazeroHost) Imports(ctx context.Context) context.Context { return ctx }

// Subscribed reports false: a guest cannot subscribe to signals here.
func (h *wazeroHost) Subscribed(sig int) bool { return false }

// Close closes the host module.
func (h *wazeroHost) Close(ctx context.Context) error { return h.mod.Close(ctx) }
