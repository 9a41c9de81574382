// Package manager is the shim binary's own lifecycle: the `start` action
// (spawn the long-running shim server on a socket and tell containerd its
// address), the `delete` action (clean up a task from its state on disk
// when the server is gone) and `-info`. It speaks both start protocols:
// containerd >= 2.3 sends protobuf BootstrapParams on stdin and reads a
// protobuf BootstrapResult; older daemons (1.6, 1.7, 2.0-2.2) send the
// runtime options (or nothing) and read the plain socket address.
//
// It knows nothing of the task API (package task) or of containers (oci).
package manager

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	bootapi "github.com/containerd/containerd/api/runtime/bootstrap/v1"
	"github.com/containerd/containerd/api/types"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/shim"
	"github.com/containerd/log"

	"github.com/wasmrun/wasmrun/internal/atomicfile"
	"github.com/wasmrun/wasmrun/internal/version"
	"github.com/wasmrun/wasmrun/shim/task"
)

// RuntimeName is the runtime name containerd maps to this binary.
const RuntimeName = "io.containerd.wasmrun.v1"

// groupLabels put tasks into one shim: the containers of a CRI pod (and
// anything labelled with our own group annotation) share the shim of the
// first one. Order matters.
var groupLabels = []string{
	"io.containerd.wasmrun.v1.group",
	"io.kubernetes.cri.sandbox-id",
}

// defaultSocketDir is where sockets go when containerd does not say
// (the same place the runc shim uses).
const defaultSocketDir = "/run/containerd/s"

// ttrpcAddressEnv carries containerd's ttrpc address (for events) to the
// shim server.
const ttrpcAddressEnv = "TTRPC_ADDRESS"

type manager struct{}

// New returns the shim.Shim of containerd-shim-wasmrun-v1.
func New() shim.Shim { return manager{} }

func (manager) Name() string { return RuntimeName }

// Start spawns the shim server (this binary without an action) listening on
// a socket derived from the grouping id, or returns the address of the
// existing server of the group.
func (manager) Start(ctx context.Context, params *bootapi.BootstrapParams) (_ *bootapi.BootstrapResult, retErr error) {
	id := params.GetInstanceID()
	grouping := id
	if ann, err := readAnnotations("config.json"); err == nil {
		for _, l := range groupLabels {
			if g, ok := ann[l]; ok && g != "" {
				grouping = g
				break
			}
		}
	}
	socketDir := params.GetSocketDir()
	if socketDir == "" {
		socketDir = defaultSocketDir
	}
	result := &bootapi.BootstrapResult{Version: 3, Protocol: "ttrpc"}
	address, err := shim.CreateSocketAddress(ctx, socketDir, params.GetContainerdGrpcAddress(), grouping, false)
	if err != nil {
		return nil, err
	}
	result.Address = address
	socket, err := shim.NewSocket(address)
	if err != nil {
		if !shim.SocketEaddrinuse(err) {
			return nil, fmt.Errorf("create shim socket: %w", err)
		}
		if shim.CanConnect(address) {
			// The group's shim runs: the new task goes to it.
			return result, writeAddress("address", address)
		}
		if err := shim.RemoveSocket(address); err != nil {
			return nil, fmt.Errorf("remove stale shim socket: %w", err)
		}
		if socket, err = shim.NewSocket(address); err != nil {
			return nil, fmt.Errorf("create shim socket: %w", err)
		}
	}
	defer func() {
		if retErr != nil {
			socket.Close()
			shim.RemoveSocket(address)
		}
	}()
	f, err := socket.File()
	if err != nil {
		return nil, err
	}
	defer f.Close()

	cmd, err := serverCommand(ctx, id, params)
	if err != nil {
		return nil, err
	}
	cmd.ExtraFiles = []*os.File{f} // fd 3: the listening socket
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start shim server: %w", err)
	}
	defer func() {
		if retErr != nil {
			cmd.Process.Kill()
		}
	}()
	go cmd.Wait()
	if err := shim.AdjustOOMScore(cmd.Process.Pid); err != nil {
		return nil, fmt.Errorf("adjust OOM score of the shim: %w", err)
	}
	if err := writeAddress("address", address); err != nil {
		return nil, err
	}
	return result, nil
}

// serverCommand is the long-running shim server: this binary with the
// same identity flags and no action, in its own process group so that
// signals to containerd's group do not reach it.
func serverCommand(ctx context.Context, id string, params *bootapi.BootstrapParams) (*exec.Cmd, error) {
	ns, err := namespaces.NamespaceRequired(ctx)
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cwd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	args := []string{"-namespace", ns, "-id", id, "-address", params.GetContainerdGrpcAddress()}
	if params.GetLogLevel() <= bootapi.LogLevel_LOG_LEVEL_DEBUG {
		args = append(args, "-debug")
	}
	cmd := exec.Command(self, args...)
	cmd.Dir = cwd
	cmd.Env = os.Environ()
	if a := params.GetContainerdTtrpcAddress(); a != "" {
		cmd.Env = append(cmd.Env, ttrpcAddressEnv+"="+a)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd, nil
}

// Stop is the `delete` action: the server is gone (or never came up), so
// the task is cleaned up from what it left in its bundle (the working
// directory).
func (manager) Stop(ctx context.Context, id string) (shim.StopStatus, error) {
	bundle, err := os.Getwd()
	if err != nil {
		return shim.StopStatus{}, err
	}
	ex, err := task.Cleanup(ctx, bundle, id)
	if err != nil {
		log.G(ctx).WithError(err).Warn("cleanup of the task left something behind")
	}
	// A killed server leaves its socket; remove it unless a server still
	// answers on it (other tasks of the group).
	if address, err := shim.ReadAddress(filepath.Join(bundle, "address")); err == nil && !shim.CanConnect(address) {
		shim.RemoveSocket(address)
	}
	return shim.StopStatus{Pid: ex.Pid, ExitStatus: ex.Status, ExitedAt: ex.At}, nil
}

// Info describes the runtime for `-info`.
func (manager) Info(ctx context.Context, optionsR io.Reader) (*types.RuntimeInfo, error) {
	return &types.RuntimeInfo{
		Name:    RuntimeName,
		Version: &types.RuntimeVersion{Version: version.Version},
	}, nil
}

func readAnnotations(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	return s.Annotations, nil
}

// writeAddress writes the bundle's address file atomically: containerd
// 1.x reads it to reconnect to the shim after a restart.
func writeAddress(path, address string) error {
	if err := atomicfile.Write(path, []byte(address), 0o644, ""); err != nil {
		return fmt.Errorf("write address file: %w", err)
	}
	return nil
}
