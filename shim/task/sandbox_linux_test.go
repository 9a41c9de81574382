package task

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/tetratelabs/wazero"
)

// The built-in pause module is a valid WASI command that imports only
// poll_oneoff.
func TestPauseModule(t *testing.T) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	cm, err := r.CompileModule(ctx, pauseWasm)
	if err != nil {
		t.Fatal(err)
	}
	imports := cm.ImportedFunctions()
	if len(imports) != 1 {
		t.Fatalf("%d imports, want 1", len(imports))
	}
	if mod, name, _ := imports[0].Import(); mod != "wasi_snapshot_preview1" || name != "poll_oneoff" {
		t.Errorf("import %s.%s, want wasi_snapshot_preview1.poll_oneoff", mod, name)
	}
	if _, ok := cm.ExportedFunctions()["_start"]; !ok {
		t.Error("no _start export")
	}
}

// sandboxBundle keeps the spec's namespaces, annotations and hooks and runs the
// pause module from its own root.
func TestSandboxBundle(t *testing.T) {
	bundle := t.TempDir()
	spec := &specs.Spec{
		Version:     specs.Version,
		Process:     &specs.Process{Args: []string{"/pause"}},
		Root:        &specs.Root{Path: "rootfs"},
		Annotations: map[string]string{criContainerType: criSandbox},
		Linux:       &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.NetworkNamespace}}},
		Hooks:       &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true"}}},
	}
	if !isSandbox(spec) {
		t.Fatal("isSandbox = false")
	}
	dir, err := sandboxBundle(bundle, spec)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got specs.Spec
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Process.Args[0] != "/pause.wasm" || got.Root.Path != filepath.Join(dir, "rootfs") || got.Hooks == nil || len(got.Hooks.Poststop) != 1 ||
		len(got.Linux.Namespaces) != 1 || got.Annotations[criContainerType] != criSandbox {
		t.Errorf("sandbox spec %+v", got)
	}
	wasm, err := os.ReadFile(filepath.Join(dir, "rootfs", "pause.wasm"))
	if err != nil || len(wasm) != len(pauseWasm) {
		t.Errorf("pause.wasm in the sandbox root: %v", err)
	}
	if spec.Process.Args[0] != "/pause" {
		t.Error("sandboxBundle changed the caller's spec")
	}
}
