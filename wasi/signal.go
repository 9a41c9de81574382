package wasi

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// extFuncs are the functions of ExtModuleName.
var extFuncs = []*hostFunc{
	newFunc("signal_subscribe", signalSubscribe, "sig", "result.fd"),
	newFunc("signal_unsubscribe", signalUnsubscribe, "sig"),
}

// signalSubscribe makes sig a byte on the guest's signal descriptor
// instead of its default action, and writes that descriptor (the same for
// every signal) at result.fd. Subscribing twice is the same as once.
// Errors: EINVAL for a signal that cannot be subscribed to, EFAULT for a
// bad result.fd (then nothing changes), EMFILE/ENFILE.
// POSIX: sigaction with a handler, plus the self-pipe a handler would
// write to.
func signalSubscribe(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	sig, result := int(uint32(p[0])), uint32(p[1])
	if errno := writable(mod.Memory(), 4, result); errno != 0 {
		return errno
	}
	fd, errno := h.signals.Subscribe(h.sys, sig)
	if errno != 0 {
		return errno
	}
	if h.subscribed != nil {
		h.subscribed(sig)
	}
	return writeU32(mod.Memory(), result, uint32(fd))
}

// signalUnsubscribe gives sig its default action again (for SIGINT and
// SIGTERM: the process ends). Errors: EINVAL as signalSubscribe.
// POSIX: sigaction with SIG_DFL.
func signalUnsubscribe(_ context.Context, h *Host, _ api.Module, p []uint64) sys.Errno {
	return h.signals.Unsubscribe(int(uint32(p[0])))
}

// instantiateExt registers ExtModuleName in r when guest imports from it,
// with h's state behind its functions. An import of a name it does not
// have, or with another signature, is an *ImportError.
func (h *Host) instantiateExt(ctx context.Context, r wazero.Runtime, guest wazero.CompiledModule) error {
	h.signals = sys.NewSignals()
	var problems []string
	imported := false
	for _, def := range guest.ImportedFunctions() {
		mod, name, _ := def.Import()
		if mod != ExtModuleName {
			continue
		}
		imported = true
		i := slices.IndexFunc(extFuncs, func(f *hostFunc) bool { return f.name == name })
		switch {
		case i < 0:
			problems = append(problems, fmt.Sprintf("%s.%s%s is not provided by wasmrun",
				mod, name, signature(def.ParamTypes(), def.ResultTypes())))
		case !extFuncs[i].matches(def):
			problems = append(problems, fmt.Sprintf("%s.%s is imported as %s, but wasmrun provides %s",
				mod, name, signature(def.ParamTypes(), def.ResultTypes()), extFuncs[i].signature()))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return &ImportError{Problems: problems}
	}
	if !imported {
		return nil
	}
	b := r.NewHostModuleBuilder(h.moduleName(ExtModuleName))
	for _, f := range extFuncs {
		b.NewFunctionBuilder().
			WithGoModuleFunction(f.goFunc(h), f.paramTypes, f.resultTypes()).
			WithParameterNames(f.paramNames...).
			WithName(f.name).
			Export(f.name)
	}
	ext, err := h.instantiateHost(ctx, r, b)
	if err != nil {
		return fmt.Errorf("instantiate %s: %w", ExtModuleName, err)
	}
	h.ext = ext
	return nil
}
