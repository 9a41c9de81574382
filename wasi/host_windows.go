package wasi

import (
	"context"

	"github.com/tetratelabs/wazero"
)

// On Windows the host module is wazero's own (wazerohost.go).

// VirtualPorts stands for simulated isolation's port table, which needs
// the socket API: there is none here, and Instantiate refuses one.
type VirtualPorts struct{}

// Host is wazero's preview1 module for one guest (wazeroHost).
type Host = wazeroHost

// Instantiate registers wazero's wasi_snapshot_preview1 module in r. Then
// instantiate guest with Host.ModuleConfig and Close the Host.
func Instantiate(ctx context.Context, r wazero.Runtime, guest wazero.CompiledModule, cfg Config) (*Host, error) {
	return instantiateWazero(ctx, r, guest, cfg)
}
