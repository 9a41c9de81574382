package wasi

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

const i32, i64 = api.ValueTypeI32, api.ValueTypeI64

// hostFunc is one host function: the spec name, its parameters (names feed
// trace logs and error messages) and the implementation. Every function
// returns one i32 errno, except proc_exit which returns nothing.
type hostFunc struct {
	// name is the import name the guest uses.
	name string
	// paramNames and paramTypes are index-correlated.
	paramNames []string
	paramTypes []api.ValueType
	// noResult is set for proc_exit, the only preview1 function without an errno.
	noResult bool
	// fn decodes params, does the work and returns the errno.
	fn func(ctx context.Context, h *Host, mod api.Module, params []uint64) sys.Errno
}

// newFunc defines a function whose parameters are all i32.
func newFunc(name string, fn func(context.Context, *Host, api.Module, []uint64) sys.Errno, paramNames ...string) *hostFunc {
	types := make([]api.ValueType, len(paramNames))
	for i := range types {
		types[i] = i32
	}
	return &hostFunc{name: name, paramNames: paramNames, paramTypes: types, fn: fn}
}

// newFuncTyped defines a function whose parameters are i32 unless given as
// "name:i64".
func newFuncTyped(name string, fn func(context.Context, *Host, api.Module, []uint64) sys.Errno, params ...string) *hostFunc {
	f := &hostFunc{name: name, fn: fn}
	for _, p := range params {
		n, t, _ := strings.Cut(p, ":")
		f.paramNames = append(f.paramNames, n)
		if t == "i64" {
			f.paramTypes = append(f.paramTypes, i64)
		} else {
			f.paramTypes = append(f.paramTypes, i32)
		}
	}
	return f
}

func (f *hostFunc) resultTypes() []api.ValueType {
	if f.noResult {
		return nil
	}
	return []api.ValueType{i32}
}

// signature renders f like a wasm type, e.g. "(i32,i32,i32)->i32".
func (f *hostFunc) signature() string {
	return signature(f.paramTypes, f.resultTypes())
}

func signature(params, results []api.ValueType) string {
	out := typeList(results)
	if len(results) == 1 {
		out = api.ValueTypeName(results[0])
	}
	return typeList(params) + "->" + out
}

// typeList renders types as "(i32,i64)".
func typeList(types []api.ValueType) string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = api.ValueTypeName(t)
	}
	return "(" + strings.Join(names, ",") + ")"
}

func (f *hostFunc) matches(def api.FunctionDefinition) bool {
	return slices.Equal(f.paramTypes, def.ParamTypes()) && slices.Equal(f.resultTypes(), def.ResultTypes())
}

// registry holds every function by import name. A name with more than one
// entry has variants told apart by signature (the socket extension's V1 and
// V2 shapes); the first entry is the one exported when the guest does not
// import the name.
var registry = map[string][]*hostFunc{}

// register adds functions to the registry; called from init in each file.
func register(fs ...*hostFunc) {
	for _, f := range fs {
		registry[f.name] = append(registry[f.name], f)
	}
}

// selectFuncs picks, for each function the guest imports from ModuleName, the
// variant whose signature matches the import. An unknown name or a known name
// with a shape wasmrun does not implement is an error naming both.
func selectFuncs(guest wazero.CompiledModule) (map[string]*hostFunc, error) {
	chosen := map[string]*hostFunc{}
	var problems []string
	for _, def := range guest.ImportedFunctions() {
		mod, name, _ := def.Import()
		if mod == ExtModuleName {
			continue // wasmrun's own functions: instantiateExt (signal.go)
		}
		if mod != ModuleName {
			problems = append(problems, fmt.Sprintf("%s.%s%s is imported from module %q, which wasmrun does not provide (only %s)",
				mod, name, signature(def.ParamTypes(), def.ResultTypes()), mod, ModuleName))
			continue
		}
		variants, ok := registry[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s.%s%s is not provided by wasmrun",
				mod, name, signature(def.ParamTypes(), def.ResultTypes())))
			continue
		}
		var match *hostFunc
		for _, v := range variants {
			if v.matches(def) {
				match = v
				break
			}
		}
		if match == nil {
			var have []string
			for _, v := range variants {
				have = append(have, v.signature())
			}
			problems = append(problems, fmt.Sprintf("%s.%s is imported as %s, but wasmrun provides %s",
				mod, name, signature(def.ParamTypes(), def.ResultTypes()), strings.Join(have, " or ")))
			continue
		}
		if prev, dup := chosen[name]; dup && prev != match {
			problems = append(problems, fmt.Sprintf("%s.%s is imported with two different signatures", mod, name))
			continue
		}
		chosen[name] = match
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, &ImportError{Problems: problems}
	}
	for name, variants := range registry {
		if _, ok := chosen[name]; !ok {
			chosen[name] = variants[0]
		}
	}
	return chosen, nil
}

// ImportError says which imports of a guest wasmrun cannot satisfy.
type ImportError struct {
	Problems []string
}

func (e *ImportError) Error() string {
	return "unsupported import: " + strings.Join(e.Problems, "; ")
}

// goFunc adapts f to wazero, binding it to h.
func (f *hostFunc) goFunc(h *Host) api.GoModuleFunc {
	fn := f.fn
	if f.noResult {
		return func(ctx context.Context, mod api.Module, stack []uint64) {
			fn(ctx, h, mod, stack)
		}
	}
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		stack[0] = uint64(fn(ctx, h, mod, stack))
	}
}
