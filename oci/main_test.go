package oci

import (
	"os"
	"testing"

	"github.com/wasmrun/wasmrun/internal/initproc"
)

// TestMain lets the test binary serve as the container process: Create
// starts the program defaultInit names, which here is this test binary.
func TestMain(m *testing.M) {
	if initproc.IsInit() {
		os.Exit(initproc.Main())
	}
	defaultInit = os.Executable
	os.Exit(m.Run())
}
