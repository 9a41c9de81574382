package cni

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// create implements Setup for ModeNew. Order matters for GC: the state file
// is written before the namespace exists and removed after it is gone, so a
// namespace file without state is never one of a live run of ours.
func (m *Manager) create(ctx context.Context, req Request) (ns *Namespace, err error) {
	t0 := time.Now()
	if !validName.MatchString(req.ID) {
		return nil, fmt.Errorf("create namespace for %q: id must be letters, digits, '_', '-', '.'", req.ID)
	}
	name := m.NamespaceName(req.ID)
	path := m.netnsPath(name)
	if err := ValidateForwards(req.Forwards); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", name, err)
	}
	for _, f := range req.Forwards {
		if f.IPv6Host() {
			return nil, fmt.Errorf("create namespace %s: forward %s: portmap forwards IPv4 host addresses only (IPv6 ones go through the userspace forwarder)", name, f)
		}
		if f.HostPort == 0 {
			return nil, fmt.Errorf("create namespace %s: forward %s: host port must not be 0", name, f)
		}
	}
	st := &state{Name: name, ID: req.ID, Path: path}
	owner := req.OwnerPID
	if owner == 0 {
		owner = os.Getpid()
	}
	if err := st.setOwner(owner); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", name, err)
	}
	bridge := req.Bridge || len(req.Forwards) > 0
	if bridge {
		list, err := m.netConfList(len(req.Forwards) > 0, req.Bridge && !m.cfg.Bridge.NoMasquerade)
		if err != nil {
			return nil, fmt.Errorf("create namespace %s: %w", name, err)
		}
		pp := m.PluginPath()
		if err := findPlugins(list, pp); err != nil {
			return nil, fmt.Errorf("create namespace %s: %w", name, err)
		}
		st.NetConfList, st.PluginPath, st.CacheDir = list, pp, m.cfg.CacheDir
		st.RuntimeConf = &runtimeConf{ContainerID: m.containerID(req.ID), NetNS: path, IfName: m.cfg.Bridge.IfName}
		for _, f := range req.Forwards {
			st.RuntimeConf.PortMappings = append(st.RuntimeConf.PortMappings, portMapping{
				HostPort: int(f.HostPort), ContainerPort: int(f.GuestPort), Protocol: f.Proto(), HostIP: f.HostIP,
			})
		}
		st.Forwards = append([]Forward(nil), req.Forwards...)
	}
	if err := m.claim(ctx, st); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if terr := m.teardown(context.WithoutCancel(ctx), name); terr != nil {
				m.cfg.Log("undo namespace %s: %v", name, terr)
			}
		}
	}()
	if err := makeShared(m.cfg.NetnsDir); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", name, err)
	}
	if err := createNetns(path, !req.NoLoopback); err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", name, err)
	}
	m.cfg.Log("created namespace %s (%s)", name, path)
	if req.NoLoopback {
		m.cfg.Log("lo left down (loopback disabled)")
	} else {
		m.cfg.Log("lo up")
	}
	if bridge {
		if err := m.cniAdd(ctx, st); err != nil {
			return nil, err
		}
		if err := m.isolate(st, req.Bridge); err != nil {
			return nil, err
		}
		if err := m.writeState(st); err != nil {
			return nil, fmt.Errorf("create namespace %s: %w", name, err)
		}
	}
	m.cfg.Log("namespace %s ready in %s", name, time.Since(t0).Round(time.Microsecond))
	return st.namespace(m), nil
}

// claim makes name ours: under the state dir lock it clears leftovers of
// an earlier run with the same name, checks the host ports (free on the
// host, not forwarded by another live namespace of ours) and writes the
// state. Serializing this makes two concurrent creates of one id, or of
// one host port, fail cleanly instead of undoing each other.
func (m *Manager) claim(ctx context.Context, st *state) error {
	unlock, err := m.lock()
	if err != nil {
		return fmt.Errorf("create namespace %s: %w", st.Name, err)
	}
	defer unlock()
	if err := m.clearLeftover(ctx, st.Name); err != nil {
		return err
	}
	// Ports: fail before anything exists, so a taken port leaves nothing.
	if len(st.Forwards) > 0 {
		live := m.liveForwards(st.Name)
		for _, f := range st.Forwards {
			if by, ok := live[strconv.Itoa(int(f.HostPort))+"/"+f.Proto()]; ok {
				return fmt.Errorf("create namespace %s: %w", st.Name, &PortInUseError{Forward: f, By: by})
			}
			if err := CheckPortFree(f); err != nil {
				return fmt.Errorf("create namespace %s: %w", st.Name, err)
			}
		}
	}
	// The bridge last: its marker is written when it does not exist yet.
	if len(st.NetConfList) > 0 {
		if err := m.claimBridge(); err != nil {
			return fmt.Errorf("create namespace %s: %w", st.Name, err)
		}
	}
	if err := m.writeState(st); err != nil {
		return fmt.Errorf("create namespace %s: %w", st.Name, err)
	}
	return nil
}

// containerID is the CNI container id: prefix-qualified so two prefixes
// sharing a network name and IPAM dir never collide.
func (m *Manager) containerID(id string) string { return m.NamespaceName(id) }

// clearLeftover removes what an earlier run with the same name left (best
// effort CNI DEL from its state, then the namespace), unless that run's
// owner is still alive, which is an error.
func (m *Manager) clearLeftover(ctx context.Context, name string) error {
	path := m.netnsPath(name)
	st, err := m.readState(name)
	switch {
	case err == nil:
		if st.ownerAlive() {
			return fmt.Errorf("create namespace %s: already exists, owned by running pid %d", name, st.OwnerPID)
		}
		m.cfg.Log("removing leftover namespace %s of pid %d", name, st.OwnerPID)
		return m.teardownLocked(ctx, name)
	case errors.Is(err, os.ErrNotExist):
		if _, err := os.Lstat(path); err != nil {
			return nil
		}
		if netnsInUse(path) {
			return fmt.Errorf("create namespace %s: %s already exists and is in use", name, path)
		}
		m.cfg.Log("removing leftover namespace %s (no state)", name)
		_, err := deleteNetns(path)
		return err
	default:
		// Unreadable state: we cannot DEL, but the namespace can go.
		m.cfg.Log("removing leftover namespace %s: %v", name, err)
		if _, err := deleteNetns(path); err != nil {
			return err
		}
		return m.removeState(name)
	}
}

// teardownTimeout bounds the CNI DEL of one teardown.
const teardownTimeout = 2 * time.Minute

// teardown removes namespace name using its state: CNI DEL (logged on
// failure), namespace, state, and the bridge when it was the last namespace
// on it. No state and no namespace is a no-op. The state dir lock must not
// be held (see teardownLocked).
func (m *Manager) teardown(ctx context.Context, name string) error {
	st, err := m.removeNamespace(ctx, name)
	if err != nil {
		return err
	}
	if st != nil {
		m.releaseBridge(st)
	}
	return m.removeStateOf(name)
}

// teardownLocked is teardown for a caller that holds the state dir lock.
func (m *Manager) teardownLocked(ctx context.Context, name string) error {
	st, err := m.removeNamespace(ctx, name)
	if err != nil {
		return err
	}
	if st != nil {
		m.releaseBridgeLocked(st)
	}
	return m.removeStateOf(name)
}

// removeStateOf removes namespace name's state, the last step of its
// teardown: until then a teardown that was killed is done again from it
// (GC, the delete action), bridge release included.
func (m *Manager) removeStateOf(name string) error {
	if err := m.removeState(name); err != nil {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	return nil
}

// removeNamespace is teardown but for the bridge and the state: CNI DEL
// and the namespace. It returns the state it tore down from (nil when
// there was none).
func (m *Manager) removeNamespace(ctx context.Context, name string) (*state, error) {
	// Cancelling the caller (Ctrl-C) must not leave rules and leases
	// behind: DEL runs to the end, bounded by its own timeout.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), teardownTimeout)
	defer cancel()
	path := m.netnsPath(name)
	st, err := m.readState(name)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		m.cfg.Log("read state of %s: %v", name, err)
	}
	if st != nil {
		path = st.Path
		if len(st.NetConfList) > 0 {
			waitPlugins(path, m.cfg.Log)
		}
		if err := cniDel(ctx, st, m.cfg.Log); err != nil {
			m.cfg.Log("%v", err)
		}
	}
	removed, err := deleteNetns(path)
	if err != nil {
		return st, fmt.Errorf("delete namespace %s: %w", name, err)
	}
	if removed {
		m.cfg.Log("deleted namespace %s (%s)", name, path)
	}
	return st, nil
}
