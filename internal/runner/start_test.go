package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestStartFunctionTrap pins how a trap in a module's start function is
// told from a module wazero refuses (it reads wazero's words): it is the
// guest's trap, status 134, not a failure of wasmrun.
func TestStartFunctionTrap(t *testing.T) {
	m := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
		0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type () -> ()
		0x03, 0x02, 0x01, 0x00, // func 0
		0x07, 0x0a, 0x01, 0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x00, // export _start
		0x08, 0x01, 0x00, // start: func 0
		0x0a, 0x05, 0x01, 0x03, 0x00, 0x00, 0x0b, // code: unreachable
	}
	path := filepath.Join(t.TempDir(), "trap.wasm")
	if err := os.WriteFile(path, m, 0o644); err != nil {
		t.Fatal(err)
	}
	code, err := Run(context.Background(), Options{Path: path})
	var trap *TrapError
	if code != TrapExitCode || !errors.As(err, &trap) {
		t.Fatalf("Run: %d, %v; want %d and a *TrapError", code, err, TrapExitCode)
	}
}
