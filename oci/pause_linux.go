package oci

import (
	"fmt"
)

// Pause and Resume freeze and thaw every process of a container, its
// exec processes included, through the freezer of its cgroup (the one
// recorded in its state, so they work from any process). A paused guest
// stops where it stands, in a host call or in its own code; its sockets
// stay open, and what arrives meanwhile waits in the kernel's queues. A
// container without a cgroup cannot be paused.

// Pause freezes container id.
func (r *Runtime) Pause(id string) error {
	cg, err := r.freezerOf(id, "pause")
	if err != nil {
		return err
	}
	if err := cg.freeze(); err != nil {
		return fmt.Errorf("pause container %s: %w", id, err)
	}
	r.logf("container %s: paused", id)
	return nil
}

// Resume thaws container id.
func (r *Runtime) Resume(id string) error {
	cg, err := r.freezerOf(id, "resume")
	if err != nil {
		return err
	}
	if err := cg.thaw(); err != nil {
		return fmt.Errorf("resume container %s: %w", id, err)
	}
	r.logf("container %s: resumed", id)
	return nil
}

// freezerOf is the cgroup of container id for what (pause or resume).
func (r *Runtime) freezerOf(id, what string) (cgroup, error) {
	st, err := r.readState(id)
	if err != nil {
		return nil, err
	}
	if st.Cgroup == "" {
		return nil, fmt.Errorf("cannot %s container %s: it has no cgroup, whose freezer would do it (its spec sets no linux.cgroupsPath, or one in the systemd driver's slice:prefix:name form, which wasmrun does not support): %w", what, id, ErrFailedPrecondition)
	}
	// Thawing the cgroup of a process that has exited lets its
	// neighbours (exec processes) go on, or die.
	if what == "pause" && !st.alive() {
		return nil, fmt.Errorf("cannot pause container %s: its process has exited: %w", id, ErrFailedPrecondition)
	}
	return loadCgroup(st.Cgroup)
}
