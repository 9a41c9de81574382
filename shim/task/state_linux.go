package task

import (
	"context"

	"github.com/containerd/log"
	"github.com/wasmrun/wasmrun/shim/bundlefile"
)

// Exit is how a task process ended (recorded in its bundle).
type Exit = bundlefile.Exit

// Cleanup removes everything task id left in and around its bundle, the
// way Delete does (removeTask: process killed, namespace, cgroup, rootfs
// mount, oci state, poststop hooks). It is the `delete` action, run with no
// shim server and possibly no daemon; it returns the recorded exit, or
// 128+SIGKILL when none was recorded (the shim died first, so the process
// was killed).
func Cleanup(ctx context.Context, bundle, id string) (Exit, error) {
	ex := bundlefile.ExitOrKilled(bundle)
	rt := runtimeOf(ctx, bundle, id, readSavedConfig(bundle))
	// The shim may have died with the task paused: its frozen processes
	// act on no signal (cgroup v1), not even the SIGKILL of their death
	// signal, until thawed.
	rt.Resume(id)
	err := removeTask(ctx, rt, bundle, id)
	if err != nil {
		log.G(ctx).WithError(err).Warn("cleanup incomplete")
	}
	return ex, err
}
