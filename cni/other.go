//go:build !linux

package cni

import (
	"context"
	"errors"
)

// errUnsupported is returned by everything that needs Linux namespaces.
var errUnsupported = errors.New("network namespaces need Linux")

// Manager is only functional on Linux.
type Manager struct{ cfg Config }

// New fails on this platform.
func New(cfg Config) (*Manager, error) { return nil, errUnsupported }

// Config returns the configuration.
func (m *Manager) Config() Config { return m.cfg }

// NamespaceName returns <prefix>-<id>.
func (m *Manager) NamespaceName(id string) string { return m.cfg.Prefix + "-" + id }

// PluginPath returns the directories searched for CNI plugins, in order.
func (m *Manager) PluginPath() []string {
	return append(append([]string(nil), m.cfg.PluginDirs...), m.cfg.FallbackPluginDirs...)
}

// List returns nothing on this platform.
func (m *Manager) List() ([]*Namespace, error) { return nil, nil }

// Alive reports true.
func (n *Namespace) Alive() bool { return true }

// SetOwner does nothing on this platform.
func (n *Namespace) SetOwner(pid int) error { return nil }

// CheckPortFree fails on this platform.
func CheckPortFree(f Forward) error { return errUnsupported }

// Setup fails on this platform.
func (m *Manager) Setup(ctx context.Context, req Request) (*Namespace, error) {
	return nil, errUnsupported
}

// Open fails on this platform.
func (m *Manager) Open(id string) (*Namespace, error) { return nil, errUnsupported }

// OpenName fails on this platform.
func (m *Manager) OpenName(name string) (*Namespace, error) { return nil, errUnsupported }

// GC does nothing on this platform.
func (m *Manager) GC(ctx context.Context, prefix string) ([]string, error) { return nil, nil }

// Teardown does nothing on this platform.
func (n *Namespace) Teardown(ctx context.Context) error { return nil }

// Do runs fn.
func (n *Namespace) Do(fn func() error) error { return fn() }

// Rootless reports true: there is no root network setup here.
func Rootless() bool { return true }

// UserNamespacesAllowed reports false on this platform.
func UserNamespacesAllowed() (bool, string) { return false, "user namespaces need Linux" }

// openInside fails on this platform: a Forwarder needs
// ForwarderOptions.Dial here.
func openInside(nsPath string) (inside, error) { return nil, errUnsupported }

// Plan fails on this platform.
func Plan(cfg Config, t Target, o Options) (Network, error) { return nil, errUnsupported }

// Release does nothing on this platform.
func Release(ctx context.Context, cfg Config, rec Record) error { return nil }

// GC does nothing on this platform.
func GC(ctx context.Context, cfg Config) ([]string, error) { return nil, nil }
