package wasi

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	wsys "github.com/tetratelabs/wazero/sys"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// The host of Windows (wazero's own preview1 module, wazerohost.go) is
// tested here: a guest gets its arguments, environment and stdio, and a
// Config that needs sockets is refused.
func TestWazeroHost(t *testing.T) {
	ctx := context.Background()
	wasm, err := os.ReadFile(guests.C(t, "args_env_exit"))
	if err != nil {
		t.Fatal(err)
	}
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	guest, err := r.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cfg := Config{Args: []string{"prog", "7", "a b"}, Env: []string{"GREETING=hi"}, Stdout: out, Stderr: out}
	h, err := instantiateWazero(ctx, r, guest, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.InstantiateModule(h.Imports(ctx), guest, h.ModuleConfig(wazero.NewModuleConfig().WithName("")))
	var exit *wsys.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 7 {
		t.Fatalf("guest ended with %v, want exit code 7", err)
	}
	b, _ := os.ReadFile(out.Name())
	for _, want := range []string{"arg 1 [7]", "arg 2 [a b]", "env [GREETING=hi]", "lookup GREETING [hi]", "to stderr"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("output lacks %q:\n%s", want, b)
		}
	}

	// Each refused for its own reason (the module name is free: the
	// first host is closed).
	h.Close(ctx)
	for want, bad := range map[string]Config{
		"listening sockets: the WASI socket API": {Listeners: []*os.File{out}},
		"network isolation: the WASI socket API": {VirtualPorts: NewVirtualPorts(nil, nil)},
		"several instances":                      {Instance: "2"},
		"contains a NUL byte":                    {Args: []string{"a\x00b"}},
	} {
		h, err := instantiateWazero(ctx, r, guest, bad)
		if err == nil {
			h.Close(ctx)
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v, want %q", bad, err, want)
		}
	}
}
