package task

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A CRI pod's sandbox container (annotation
// io.kubernetes.cri.container-type=sandbox) only holds the pod's network
// namespace until it is killed; its image's entrypoint is a native pause
// program, not wasm. The shim runs a built-in pause module instead, from
// a private bundle next to containerd's.
const (
	criContainerType = "io.kubernetes.cri.container-type"
	criSandbox       = "sandbox"
	sandboxDir       = "wasmrun-sandbox"
)

// pauseWasm is pause.wat below, compiled with wat2wasm (136 bytes): it
// sleeps in poll_oneoff, an hour at a time, until a signal ends it.
//
//	(module
//	  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
//	  (memory (export "memory") 1)
//	  (func (export "_start")
//	    (i32.store (i32.const 16) (i32.const 1))              ;; clock id: monotonic
//	    (i64.store (i32.const 24) (i64.const 3600000000000))  ;; timeout: 1 h
//	    (loop $forever
//	      (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))
//	      (br $forever))))
var pauseWasm = []byte{
	0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x0c, 0x02, 0x60,
	0x04, 0x7f, 0x7f, 0x7f, 0x7f, 0x01, 0x7f, 0x60, 0x00, 0x00, 0x02, 0x26,
	0x01, 0x16, 0x77, 0x61, 0x73, 0x69, 0x5f, 0x73, 0x6e, 0x61, 0x70, 0x73,
	0x68, 0x6f, 0x74, 0x5f, 0x70, 0x72, 0x65, 0x76, 0x69, 0x65, 0x77, 0x31,
	0x0b, 0x70, 0x6f, 0x6c, 0x6c, 0x5f, 0x6f, 0x6e, 0x65, 0x6f, 0x66, 0x66,
	0x00, 0x00, 0x03, 0x02, 0x01, 0x01, 0x05, 0x03, 0x01, 0x00, 0x01, 0x07,
	0x13, 0x02, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x06,
	0x5f, 0x73, 0x74, 0x61, 0x72, 0x74, 0x00, 0x01, 0x0a, 0x2a, 0x01, 0x28,
	0x00, 0x41, 0x10, 0x41, 0x01, 0x36, 0x02, 0x00, 0x41, 0x18, 0x42, 0x80,
	0xc0, 0xe2, 0x85, 0xe3, 0xe8, 0x00, 0x37, 0x03, 0x00, 0x03, 0x40, 0x41,
	0x00, 0x41, 0xc0, 0x00, 0x41, 0x01, 0x41, 0x80, 0x01, 0x10, 0x00, 0x1a,
	0x0c, 0x00, 0x0b, 0x0b,
}

// isSandbox reports whether spec is a CRI pod sandbox.
func isSandbox(spec *specs.Spec) bool { return spec.Annotations[criContainerType] == criSandbox }

// sandboxBundle writes a bundle that runs the pause module with the
// sandbox spec's namespaces, annotations, resources and hooks, and returns
// it (the container's state names the real bundle: CreateOpts.Bundle).
func sandboxBundle(bundle string, spec *specs.Spec) (string, error) {
	dir := filepath.Join(bundle, sandboxDir)
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return "", fmt.Errorf("create sandbox bundle: %w", err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "pause.wasm"), pauseWasm, 0o644); err != nil {
		return "", fmt.Errorf("create sandbox bundle: %w", err)
	}
	s := *spec
	s.Root = &specs.Root{Path: rootfs, Readonly: true}
	s.Mounts = nil
	p := specs.Process{Args: []string{"/pause.wasm"}, Cwd: "/"}
	if spec.Process != nil {
		p.OOMScoreAdj = spec.Process.OOMScoreAdj // the kubelet's for the sandbox
	}
	s.Process = &p
	b, err := json.Marshal(&s)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		return "", fmt.Errorf("create sandbox bundle: %w", err)
	}
	return dir, nil
}
