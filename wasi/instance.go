package wasi

import (
	"context"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// Several guests can share one runtime, and so one compiled module: the
// instances of an app. wazero resolves a guest's imports by module name
// among the runtime's modules, and names are unique, so the host modules
// of a Host with an Instance get that name as a suffix
// ("wasi_snapshot_preview1#2"), and the guest is instantiated with an
// import resolver that maps the names it imports to them.

// moduleName is the name of this Host's module for the import name.
func (h *Host) moduleName(name string) string {
	if h.instance == "" {
		return name
	}
	return name + "#" + h.instance
}

// instantiateHost instantiates the host module b builds. For a Host with
// an Instance it compiles and instantiates the module itself, because
// wazero's import resolver takes only the modules InstantiateModule
// returns, not HostModuleBuilder.Instantiate's (a wrapper); Close closes
// the compiled module.
func (h *Host) instantiateHost(ctx context.Context, r wazero.Runtime, b wazero.HostModuleBuilder) (api.Module, error) {
	if h.instance == "" {
		return b.Instantiate(ctx)
	}
	c, err := b.Compile(ctx)
	if err != nil {
		return nil, err
	}
	m, err := r.InstantiateModule(ctx, c, wazero.NewModuleConfig())
	if err != nil {
		c.Close(ctx)
		return nil, err
	}
	h.compiled = append(h.compiled, c)
	return m, nil
}

// Imports returns the context to instantiate the guest with: for a Host
// with an Instance, its imports of ModuleName and ExtModuleName resolve
// to this Host's modules; otherwise ctx itself.
func (h *Host) Imports(ctx context.Context) context.Context {
	if h.instance == "" {
		return ctx
	}
	return experimental.WithImportResolver(ctx, func(name string) api.Module {
		switch {
		case name == ModuleName:
			return h.mod
		case name == ExtModuleName && h.ext != nil:
			return h.ext
		}
		return nil
	})
}

// Subscribed reports whether the guest has subscribed to sig (a signal
// number, see ExtModuleName): then sig no longer ends the process on its
// account. A guest that ended subscribed (its handler exited) still has:
// a supervisor deciding about a signal that reached it too may ask after.
func (h *Host) Subscribed(sig int) bool {
	return h.signals.Held(sig)
}
