//go:build !linux && !darwin

package runner

import "context"

// withMappedMemory: guest memory is wazero's own (a Go slice) here.
func withMappedMemory(ctx context.Context) context.Context { return ctx }
