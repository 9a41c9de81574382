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
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"unsafe"

	bootapi "github.com/containerd/containerd/api/runtime/bootstrap/v1"
	"github.com/containerd/containerd/api/types"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/shim"
	"github.com/containerd/log"
	"golang.org/x/sys/unix"

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
	group := grouping(id)
	socketDir := params.GetSocketDir()
	if socketDir == "" {
		socketDir = defaultSocketDir
	}
	result := &bootapi.BootstrapResult{Version: 3, Protocol: "ttrpc"}
	address, err := shim.CreateSocketAddress(ctx, socketDir, params.GetContainerdGrpcAddress(), group, false)
	if err != nil {
		return nil, err
	}
	result.Address = address
	if group != id && shim.CanConnect(address) {
		// The group's shim runs: the new task goes to it.
		return result, writeAddress("address", address)
	}
	// Anything else at the address is dead, or the server of a start
	// action that died (it is exiting): the new server takes it over.
	if err := shim.RemoveSocket(address); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale shim socket: %w", err)
	}

	cmd, err := serverCommand(ctx, id, params)
	if err != nil {
		return nil, err
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer readyR.Close()
	commitR, commitW, err := os.Pipe()
	if err != nil {
		readyW.Close()
		return nil, err
	}
	defer commitW.Close()
	// fd 3 is the server's listening socket, which it makes itself.
	cmd.ExtraFiles = []*os.File{nil, readyW, commitR}
	cmd.Env = append(cmd.Env, startEnv+"="+address)
	err = cmd.Start()
	readyW.Close()
	commitR.Close()
	if err != nil {
		return nil, fmt.Errorf("start shim server: %w", err)
	}
	defer func() {
		if retErr != nil {
			cmd.Process.Kill()
			shim.RemoveSocket(address)
		}
	}()
	go cmd.Wait()
	if n, _ := readyR.Read(make([]byte, 1)); n != 1 {
		return nil, fmt.Errorf("start shim server: it exited before it listened on %s", address)
	}
	if err := shim.AdjustOOMScore(cmd.Process.Pid); err != nil {
		return nil, fmt.Errorf("adjust OOM score of the shim: %w", err)
	}
	if err := writeAddress("address", address); err != nil {
		return nil, err
	}
	if _, err := commitW.Write([]byte{1}); err != nil {
		return nil, fmt.Errorf("start shim server: %w", err)
	}
	return result, nil
}

// The start protocol between the start action and the server it starts.
// The socket file is the server's alone: it binds it, tells the action it
// listens (a byte on fd 4), and waits for the action's word that
// containerd got the address (a byte on fd 5). If the action dies or
// fails first (containerd then deletes the bundle without a delete
// action), the server removes the socket and exits: a start action killed
// at any instant leaves neither a socket file nor a server nobody talks
// to.
const startEnv = "WASMRUN_SHIM_SOCKET"

// serveStart is the server's side, before the shim library takes over the
// listener on fd 3. A server not started by a start action of ours (no
// startEnv) is left alone. The returned function removes the socket when
// the server is done: the library finds it through the bundle's address
// file, which containerd may have removed already (a start that failed
// after all).
func serveStart() (done func()) {
	address := os.Getenv(startEnv)
	os.Unsetenv(startEnv)
	if address == "" {
		return func() {}
	}
	ready, commit := os.NewFile(4, "ready"), os.NewFile(5, "commit")
	l, err := shim.NewSocket(address)
	if err != nil {
		fail(fmt.Errorf("listen on %s: %w", address, err))
	}
	l.SetUnlinkOnClose(false)
	f, err := l.File()
	if err == nil {
		// Close-on-exec: a CNI plugin or hook the server runs must not
		// hold the socket (a dead server's socket would still answer).
		err = unix.Dup3(int(f.Fd()), 3, unix.O_CLOEXEC)
		f.Close()
	}
	l.Close()
	if err != nil {
		shim.RemoveSocket(address)
		fail(fmt.Errorf("listen on %s: %w", address, err))
	}
	ready.Write([]byte{1})
	ready.Close()
	var bound unix.Stat_t
	unix.Stat(strings.TrimPrefix(address, "unix://"), &bound)
	go func() {
		n, _ := commit.Read(make([]byte, 1))
		commit.Close()
		if n != 1 || !awaitTask() {
			// The socket first: the action's stderr, ours too, may be
			// a pipe nobody reads any more (a write can kill us).
			shim.RemoveSocket(address)
			fmt.Fprintf(os.Stderr, "%s: the start action of this server did not succeed: exiting\n", RuntimeName)
			os.Exit(1)
		}
	}()
	return func() {
		// Ours still, not a socket a new server of the id has made.
		var now unix.Stat_t
		if unix.Stat(strings.TrimPrefix(address, "unix://"), &now) == nil && now.Ino == bound.Ino && now.Dev == bound.Dev {
			shim.RemoveSocket(address)
		}
	}
}

// awaitTask waits, once the start action said it succeeded, for the first
// Create, and reports whether it came. The action can still fail after
// its word (killed before its exit status reached containerd): containerd
// then removes the bundle, this server's working directory, without ever
// connecting.
func awaitTask() bool {
	dir, err := os.Getwd()
	if err != nil {
		return false
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return true // cannot watch: trust the word
	}
	w := os.NewFile(uintptr(fd), "inotify") // in the poller: Close ends a Read
	defer w.Close()
	// The bundle's directory, through its parent: a directory that is a
	// process's working directory stays in use after its removal, and
	// gets no IN_DELETE_SELF until it is released. containerd removes a
	// bundle by renaming it aside, then deleting it.
	parent, name := filepath.Split(dir)
	gone := make(chan struct{})
	if _, err := unix.InotifyAddWatch(fd, parent, unix.IN_DELETE|unix.IN_MOVED_FROM); err != nil {
		close(gone)
	} else if _, err := os.Stat(dir); err != nil {
		close(gone) // removed before the watch
	} else {
		go func() {
			buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.PathMax+1))
			for {
				n, err := w.Read(buf)
				if err != nil {
					return
				}
				for off := 0; off+unix.SizeofInotifyEvent <= n; {
					ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
					off += unix.SizeofInotifyEvent
					evName := strings.TrimRight(string(buf[off:min(off+int(ev.Len), n)]), "\x00")
					off += int(ev.Len)
					if evName == name {
						close(gone)
						return
					}
				}
			}
		}()
	}
	select {
	case <-task.Created():
		return true
	case <-gone:
		return false
	}
}

// grouping is the shim group of task id, whose bundle is the working
// directory: its group label's value, or id itself.
func grouping(id string) string {
	if ann, err := readAnnotations("config.json"); err == nil {
		for _, l := range groupLabels {
			if g, ok := ann[l]; ok && g != "" {
				return g
			}
		}
	}
	return id
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
	// A killed server leaves its socket. First, as it is quick: containerd
	// removes the bundle, address file and all, also when this action does
	// not finish. A server of one task is gone when containerd runs this
	// action (it may still be closing its descriptors: do not ask it); a
	// group's may serve other tasks still.
	if address, err := shim.ReadAddress(filepath.Join(bundle, "address")); err == nil && (grouping(id) == id || !shim.CanConnect(address)) {
		shim.RemoveSocket(address)
	}
	ex, err := task.Cleanup(ctx, bundle, id)
	if err != nil {
		log.G(ctx).WithError(err).Warn("cleanup of the task left something behind")
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
