package cni

import (
	"context"
	"errors"
	"os"
	"strings"
)

// GC removes leftovers of crashed runs with the given prefix ("" means the
// Manager's): every namespace whose state says the owner is gone (dead pid,
// or a pid whose start time differs, i.e. reused) gets CNI DEL with its saved
// arguments, then the namespace and the state are removed; a namespace file
// with our prefix and no state is removed if no process is in it. It never
// touches a namespace whose owner is alive, so it is safe to run while other
// runs are live. Best effort: it returns the names removed and the first
// error, and keeps going after errors.
func (m *Manager) GC(ctx context.Context, prefix string) (removed []string, err error) {
	if prefix == "" {
		prefix = m.cfg.Prefix
	}
	keep := func(e error) {
		if e != nil {
			m.cfg.Log("gc: %v", e)
			if err == nil {
				err = e
			}
		}
	}
	names, e := m.stateNames(prefix)
	keep(e)
	for _, name := range names {
		adopted, e := m.adoptDead(name)
		if e != nil {
			keep(e)
		}
		if !adopted {
			continue
		}
		if e := m.teardown(ctx, name); e != nil {
			keep(e)
			continue
		}
		removed = append(removed, name)
	}
	ents, e := os.ReadDir(m.cfg.NetnsDir)
	if e != nil && !errors.Is(e, os.ErrNotExist) {
		keep(e)
	}
	for _, ent := range ents {
		name := ent.Name()
		if !strings.HasPrefix(name, prefix+"-") {
			continue
		}
		// State is written before the namespace and removed after it:
		// checking it now (after listing) cannot miss a live run's state.
		if _, e := os.Lstat(m.statePath(name)); !errors.Is(e, os.ErrNotExist) {
			continue
		}
		path := m.netnsPath(name)
		if netnsInUse(path) {
			continue
		}
		gone, e := deleteNetns(path)
		if e != nil {
			keep(e)
			continue
		}
		if gone { // else removed meanwhile by its owner's teardown
			m.cfg.Log("gc: removed %s: no state and no process", name)
			removed = append(removed, name)
		}
	}
	return removed, err
}

// adoptDead checks, under the state lock, whether name's owner is gone
// and if so records this process as its owner, so that no concurrent GC
// (or create of the same id) works on it too. A state that cannot be
// parsed is adopted as well: teardown removes what it can without it.
func (m *Manager) adoptDead(name string) (bool, error) {
	unlock, err := m.lock()
	if err != nil {
		return false, err
	}
	defer unlock()
	st, err := m.readState(name)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil // torn down meanwhile
	case err != nil:
		m.cfg.Log("gc: %s: %v", name, err)
		return true, nil
	case st.ownerAlive():
		return false, nil
	}
	m.cfg.Log("gc: %s: owner pid %d is gone", name, st.OwnerPID)
	if err := st.setOwner(os.Getpid()); err != nil {
		return false, err
	}
	return true, m.writeState(st)
}
