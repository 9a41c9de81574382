package oci

import (
	"context"
	"errors"

	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/cni"
	"github.com/wasmrun/wasmrun/internal/liveness"
)

// GC deletes containers left behind by a creator that died (kill -9 of the
// CLI, a crashed shim): those whose creating process is gone. A live
// container process of such a container is killed first. Containers whose
// creator lives are never touched. It returns the ids it removed.
func (r *Runtime) GC(ctx context.Context) ([]string, error) {
	r.removeAbandoned()
	ids, err := r.List()
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, id := range ids {
		st, err := r.readState(id)
		if err != nil || st.ownerAlive() {
			continue
		}
		if st.alive() {
			liveness.Signal(st.Pid, st.PidTime, unix.SIGKILL)
			waitGone(ctx, st)
		}
		if err := r.Delete(ctx, id, true); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		r.logf("removed leftovers of container %s (its creator %d is gone)", id, st.Owner)
		removed = append(removed, id)
	}
	names, err := cni.GC(ctx, r.netConfig())
	if err != nil {
		errs = append(errs, err)
	}
	for _, n := range names {
		r.logf("removed leftover namespace %s", n)
	}
	return removed, errors.Join(errs...)
}
