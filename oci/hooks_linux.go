package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The spec's OCI hooks run where the runtime-spec puts them, with the
// container's state on stdin: createRuntime, createContainer and prestart
// (deprecated, still used) in Create once the process and its namespaces
// exist, a failure failing Create; startContainer in Start before the
// guest runs, a failure failing Start; poststart after it, and poststop in
// Delete (whoever deletes: a front end, or a shim's delete action after
// its server died), whose failures are only logged. They are kept in the
// container's state, so a Runtime that did not create the container runs
// them all the same.

// hookPhase is a point in the lifecycle where OCI hooks run.
type hookPhase int

const (
	hooksCreate hookPhase = iota
	hooksStartContainer
	hooksPoststart
	hooksPoststop
)

// defaultHookTimeout bounds a hook without its own timeout.
const defaultHookTimeout = time.Minute

// runHooks runs st's hooks of phase in order. The first failure stops the
// phase.
func (r *Runtime) runHooks(ctx context.Context, st *stateFile, phase hookPhase) error {
	h := st.Hooks
	if h == nil {
		return nil
	}
	var list []specs.Hook
	status := specs.StateCreated
	switch phase {
	case hooksCreate:
		list = append(append(append(list, h.CreateRuntime...), h.CreateContainer...), h.Prestart...) //nolint:staticcheck // prestart is deprecated but used
		status = specs.StateCreating
	case hooksStartContainer:
		list = h.StartContainer
	case hooksPoststart:
		list, status = h.Poststart, specs.StateRunning
	case hooksPoststop:
		list, status = h.Poststop, specs.StateStopped
	}
	if len(list) == 0 {
		return nil
	}
	state, err := json.Marshal(specs.State{
		Version: specs.Version, ID: st.ID, Status: status, Pid: st.Pid, Bundle: st.Bundle, Annotations: st.Annotations,
	})
	if err != nil {
		return err
	}
	for _, hook := range list {
		if err := runHook(ctx, hook, state); err != nil {
			return err
		}
	}
	return nil
}

// warnHooks runs the hooks of a phase whose failures do not stop the
// lifecycle (poststart, poststop): they are logged.
func (r *Runtime) warnHooks(ctx context.Context, st *stateFile, phase hookPhase) {
	if err := r.runHooks(ctx, st, phase); err != nil {
		r.logf("container %s: %v", st.ID, err)
	}
}

func runHook(ctx context.Context, h specs.Hook, state []byte) error {
	timeout := defaultHookTimeout
	if h.Timeout != nil && *h.Timeout > 0 {
		timeout = time.Duration(*h.Timeout) * time.Second
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.Path)
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	}
	cmd.Env = h.Env
	cmd.Stdin = bytes.NewReader(state)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("timed out after %v", timeout)
		}
		return fmt.Errorf("OCI hook %s: %v: %s: %w", h.Path, err, strings.TrimSpace(out.String()), ErrFailedPrecondition)
	}
	return nil
}
