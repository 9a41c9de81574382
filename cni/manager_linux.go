package cni

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"

	"github.com/containernetworking/plugins/pkg/ns"
)

// Manager sets up and tears down container networks with one Config. It is
// safe for concurrent use; several Managers (in several processes) may share
// the same directories.
type Manager struct {
	cfg Config
}

// New returns a Manager for cfg with defaults filled in. It checks the
// configuration (prefix, subnet) but touches nothing on the system.
func New(cfg Config) (*Manager, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if !validName.MatchString(cfg.Prefix) {
		return nil, fmt.Errorf("check namespace prefix %q: letters, digits, '_', '-', '.' only", cfg.Prefix)
	}
	if cfg.NetnsDir == "" {
		cfg.NetnsDir = DefaultNetnsDir
	}
	if cfg.StateDir == "" {
		cfg.StateDir = DefaultStateDir
	}
	if cfg.CacheDir == "" {
		cfg.CacheDir = DefaultCacheDir
	}
	if cfg.FallbackPluginDirs == nil {
		cfg.FallbackPluginDirs = DefaultFallbackPluginDirs
	}
	cfg.PluginDirs = slices.Clone(cfg.PluginDirs)
	cfg.FallbackPluginDirs = slices.Clone(cfg.FallbackPluginDirs)
	b := &cfg.Bridge
	if b.Network == "" {
		b.Network = DefaultNetwork
	}
	if b.Name == "" {
		b.Name = DefaultBridge
	}
	if b.Subnet == "" {
		b.Subnet = DefaultSubnet
	}
	if b.IfName == "" {
		b.IfName = DefaultIfName
	}
	if b.IPAMDataDir == "" {
		b.IPAMDataDir = DefaultIPAMDataDir
	}
	if err := checkBridgeConfig(b); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = func(string, ...any) {}
	}
	return &Manager{cfg: cfg}, nil
}

// Config returns the configuration with defaults applied.
func (m *Manager) Config() Config { return m.cfg }

// PluginPath returns the directories searched for CNI plugins, in order.
func (m *Manager) PluginPath() []string {
	return append(slices.Clone(m.cfg.PluginDirs), m.cfg.FallbackPluginDirs...)
}

// NamespaceName returns <prefix>-<id>.
func (m *Manager) NamespaceName(id string) string { return m.cfg.Prefix + "-" + id }

var validName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Setup prepares the network for req:
//   - ModeHost: returns a Namespace with an empty Path; nothing is done.
//   - ModeJoin: checks req.Path is a network namespace and returns it;
//     teardown will not touch it.
//   - ModeNew: removes leftovers of an earlier run with the same id (best
//     effort), writes the state file, creates the namespace <prefix>-<id>,
//     brings lo up, and with req.Bridge or req.Forwards checks the host ports
//     are free and runs CNI ADD (bridge, host-local, portmap). On any
//     failure everything done so far is undone before returning.
func (m *Manager) Setup(ctx context.Context, req Request) (*Namespace, error) {
	switch req.Mode {
	case ModeHost:
		if len(req.Forwards) > 0 {
			return nil, errors.New("set up host network: forwards need a network namespace")
		}
		m.cfg.Log("using the host network")
		return &Namespace{Mode: ModeHost, m: m}, nil
	case ModeJoin:
		if len(req.Forwards) > 0 || req.Bridge {
			return nil, fmt.Errorf("join namespace %s: bridge and forwards are only for a namespace we create", req.Path)
		}
		if err := ns.IsNSorErr(req.Path); err != nil {
			return nil, fmt.Errorf("join namespace %s: %w", req.Path, err)
		}
		m.cfg.Log("joining namespace %s", req.Path)
		return &Namespace{Mode: ModeJoin, Path: req.Path, m: m}, nil
	case ModeNew:
		return m.create(ctx, req)
	}
	return nil, fmt.Errorf("set up network: unknown mode %d", req.Mode)
}

// Open reopens the namespace of container id from its state file, so a
// fresh process can tear it down. The error wraps ErrNotFound when there is
// no state.
func (m *Manager) Open(id string) (*Namespace, error) {
	return m.OpenName(m.NamespaceName(id))
}

// OpenName is Open by the namespace's full name, whatever prefix it was
// created with (a leftover of a run with another prefix).
func (m *Manager) OpenName(name string) (*Namespace, error) {
	st, err := m.readState(name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("open namespace %s: %w", name, ErrNotFound)
		}
		return nil, fmt.Errorf("open namespace %s: %w", name, err)
	}
	return st.namespace(m), nil
}

// List returns the namespaces with state under the Manager's prefix, live
// or not (see Alive).
func (m *Manager) List() ([]*Namespace, error) {
	names, err := m.stateNames(m.cfg.Prefix)
	if err != nil {
		return nil, err
	}
	var out []*Namespace
	for _, name := range names {
		st, err := m.readState(name)
		if err != nil {
			continue // removed meanwhile, or unreadable (GC's business)
		}
		out = append(out, st.namespace(m))
	}
	return out, nil
}

// Alive reports whether the namespace's recorded owner still runs (pid
// exists with the recorded start time). Always true for ModeHost and
// ModeJoin; false for a ModeNew namespace whose state is gone.
func (n *Namespace) Alive() bool {
	if n.Mode != ModeNew {
		return true
	}
	st, err := n.m.readState(n.Name)
	return err == nil && st.ownerAlive()
}

// Do runs fn on a locked OS thread inside the namespace (ns.Do semantics:
// goroutines fn starts run in the host namespace; a socket fn creates stays
// in the namespace and may be used from anywhere). In ModeHost fn runs on
// the calling goroutine.
func (n *Namespace) Do(fn func() error) error {
	if n.Path == "" {
		return fn()
	}
	return ns.WithNetNSPath(n.Path, func(ns.NetNS) error { return fn() })
}

// SetOwner records pid (with its start time) as the process responsible
// for this namespace, so GC keeps the namespace while pid lives. Only for
// ModeNew; a no-op otherwise.
func (n *Namespace) SetOwner(pid int) error {
	if n.Mode != ModeNew {
		return nil
	}
	st, err := n.m.readState(n.Name)
	if err != nil {
		return fmt.Errorf("set owner of namespace %s: %w", n.Name, err)
	}
	if err := st.setOwner(pid); err != nil {
		return fmt.Errorf("set owner of namespace %s: %w", n.Name, err)
	}
	if err := n.m.writeState(st); err != nil {
		return fmt.Errorf("set owner of namespace %s: %w", n.Name, err)
	}
	n.OwnerPID = pid
	return nil
}

// Teardown undoes Setup. For ModeNew: CNI DEL with the saved network list
// and runtime conf (failures are logged, not fatal), unmount and remove the
// namespace file, remove the state file. ModeHost and ModeJoin do nothing.
// It is idempotent: a second call (or a call after GC) is a no-op. ctx's
// cancellation is ignored (an interrupted DEL would leak rules and
// leases); DEL has its own timeout. The returned error reports what could
// not be removed.
func (n *Namespace) Teardown(ctx context.Context) error {
	if n.Mode != ModeNew {
		return nil
	}
	return n.m.teardown(ctx, n.Name)
}

func (m *Manager) statePath(name string) string {
	return filepath.Join(m.cfg.StateDir, name+".json")
}

func (m *Manager) netnsPath(name string) string {
	return filepath.Join(m.cfg.NetnsDir, name)
}
