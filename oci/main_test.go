package oci

import (
	"os"
	"testing"
)

// TestMain lets the test binary serve as the container process: Create
// re-executes os.Executable(), which here is this test binary.
func TestMain(m *testing.M) {
	if IsInit() {
		os.Exit(Init())
	}
	os.Exit(m.Run())
}
