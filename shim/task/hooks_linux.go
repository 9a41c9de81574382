package task

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// hookPhase is a point in the lifecycle where OCI hooks run.
type hookPhase int

const (
	// hooksCreate: createRuntime, createContainer, prestart (deprecated
	// but still used), after the task process and its namespace exist.
	hooksCreate hookPhase = iota
	// hooksStartContainer: startContainer, just before the guest runs.
	hooksStartContainer
	// hooksPoststart: poststart, after the guest runs.
	hooksPoststart
	// hooksPoststop: poststop, at delete.
	hooksPoststop
)

// defaultHookTimeout bounds a hook without its own timeout.
const defaultHookTimeout = time.Minute

// runHooks runs the spec's hooks of phase in order, each with the OCI
// state JSON on stdin. The first failure stops the phase.
func runHooks(ctx context.Context, t *task, phase hookPhase) error {
	h := t.spec.Hooks
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
		Version: specs.Version, ID: t.id, Status: status, Pid: t.pid, Bundle: t.bundle, Annotations: t.spec.Annotations,
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
		return fmt.Errorf("OCI hook %s: %v: %s: %w", h.Path, err, strings.TrimSpace(out.String()), errdefs.ErrFailedPrecondition)
	}
	return nil
}
