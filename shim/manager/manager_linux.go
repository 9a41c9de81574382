// Package manager is the shim binary, containerd-shim-wasmrun-v1: the
// `start` action (spawn the long-running shim server on a socket and tell
// containerd its address) and the `delete` action of a task that was
// removed completely. It speaks both start protocols: containerd >= 2.3
// sends protobuf BootstrapParams on stdin and reads a protobuf
// BootstrapResult; older daemons (1.6, 1.7, 2.0-2.2) send the runtime
// options (or nothing) and read the plain socket address.
//
// The binary runs on the path of every container start and delete, so
// this package stays lean: no containerd shim library, task API, oci or
// network code, whose package initialisation makes the server program
// take about 6 ms from exec to exit where this one takes about 2. The
// server is another program (ServerProgram, package server) found next
// to this one; a delete with something left to clean up, and -info,
// become it.
package manager

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"crypto/sha256"

	bootapi "github.com/containerd/containerd/api/runtime/bootstrap/v1"
	"github.com/containerd/containerd/v2/pkg/sys"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/wasmrun/wasmrun/internal/atomicfile"
	"github.com/wasmrun/wasmrun/shim/bundlefile"
)

// RuntimeName is the runtime name containerd maps to this binary.
const RuntimeName = "io.containerd.wasmrun.v1"

// ServerProgram is the shim server's program, installed next to the shim
// binary (deploy/install.sh does).
const ServerProgram = "wasmrun-shim"

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

// TTRPCAddressEnv carries containerd's ttrpc address (for events) to the
// shim server.
const TTRPCAddressEnv = "TTRPC_ADDRESS"

// The start protocol between the start action and the server it starts.
// The socket file is the server's alone: it binds it (and moves it to fd
// ListenFD for the shim library), tells the action it listens (a byte on
// ReadyFD), and waits for the action's word that containerd got the
// address (a byte on CommitFD). If the action dies or fails first
// (containerd then deletes the bundle without a delete action), the
// server removes the socket and exits: a start action killed at any
// instant leaves neither a socket file nor a server nobody talks to.
const (
	// StartEnv holds the address the server is to listen on.
	StartEnv = "WASMRUN_SHIM_SOCKET"
	ListenFD = 3
	ReadyFD  = 4
	CommitFD = 5
)

// serverPath is the server program next to this binary.
func serverPath() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	server := filepath.Join(filepath.Dir(self), ServerProgram)
	if fi, err := os.Stat(server); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("the shim server %s is missing: install it next to %s (deploy/install.sh does; build it with: CGO_ENABLED=0 go build ./cmd/%s)",
			server, self, ServerProgram)
	}
	return server, nil
}

// start spawns the shim server listening on a socket derived from the
// grouping id, or returns the address of the existing server of the
// group.
func start(params *bootapi.BootstrapParams) (_ *bootapi.BootstrapResult, retErr error) {
	id, ns := params.GetInstanceID(), params.GetNamespace()
	if ns == "" {
		return nil, errors.New("shim namespace cannot be empty")
	}
	if id == "" {
		return nil, errors.New("shim id cannot be empty")
	}
	// The server, which gets no bootstrap parameters, finds the socket
	// directory in the bundle (as containerd's shim library keeps it).
	if dir := params.GetSocketDir(); dir != "" {
		if err := writeSocketDir(dir); err != nil {
			return nil, err
		}
	}
	group := grouping(id)
	socketDir := params.GetSocketDir()
	if socketDir == "" {
		socketDir = defaultSocketDir
	}
	address := socketAddress(socketDir, params.GetContainerdGrpcAddress(), ns, group)
	result := &bootapi.BootstrapResult{Version: 3, Protocol: "ttrpc", Address: address}
	if group != id && canConnect(address) {
		// The group's shim runs: the new task goes to it.
		return result, writeAddress("address", address)
	}
	// Anything else at the address is dead, or the server of a start
	// action that died (it is exiting): the new server takes it over.
	if err := removeSocket(address); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale shim socket: %w", err)
	}

	cmd, err := serverCommand(id, ns, params)
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
	// ListenFD is the server's listening socket, which it makes itself.
	cmd.ExtraFiles = []*os.File{nil, readyW, commitR}
	cmd.Env = append(cmd.Env, StartEnv+"="+address)
	err = cmd.Start()
	readyW.Close()
	commitR.Close()
	if err != nil {
		return nil, fmt.Errorf("start shim server: %w", err)
	}
	defer func() {
		if retErr != nil {
			cmd.Process.Kill()
			removeSocket(address)
		}
	}()
	go cmd.Wait()
	if n, _ := readyR.Read(make([]byte, 1)); n != 1 {
		return nil, fmt.Errorf("start shim server: it exited before it listened on %s", address)
	}
	// One more than containerd's, as containerd's shim library sets it.
	score, err := sys.GetOOMScoreAdj(os.Getppid())
	if err == nil {
		err = sys.AdjustOOMScore(cmd.Process.Pid, score+1)
	}
	if err != nil {
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

// serverCommand is the long-running shim server: the server program with
// the same identity flags and no action, in its own process group so that
// signals to containerd's group do not reach it. Its argv[0] is this
// binary's, so that it shows as the runtime's shim (ps, pgrep -f).
func serverCommand(id, ns string, params *bootapi.BootstrapParams) (*exec.Cmd, error) {
	server, err := serverPath()
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
	cmd := exec.Command(server, args...)
	cmd.Args[0] = os.Args[0]
	cmd.Dir = cwd
	cmd.Env = os.Environ()
	if a := params.GetContainerdTtrpcAddress(); a != "" {
		cmd.Env = append(cmd.Env, TTRPCAddressEnv+"="+a)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd, nil
}

// deleteRemoved is the `delete` action of a task whose removal finished
// (bundlefile.MarkRemoved): with nothing left to clean up, it removes a
// socket the server may have left and prints the recorded exit. It
// reports false, having done nothing, for any other task: the server
// program then does the whole cleanup.
func deleteRemoved(id string) bool {
	dir, err := os.Getwd()
	if err != nil || !bundlefile.Removed(dir) {
		return false
	}
	RemoveServerSocket(dir, id)
	if _, err := os.Stdout.Write(deleteResponse(bundlefile.ExitOrKilled(dir))); err != nil {
		fail(err)
	}
	return true
}

// RemoveServerSocket removes the socket of task id's server, which a
// killed server leaves, when the server is gone: it serves one task, or
// nothing answers at its address (a group's server may serve other tasks
// still). The socket goes first, as it is quick: containerd removes the
// bundle, address file and all, also when the delete action does not
// finish. A server of one task is gone when containerd runs the delete
// action (it may still be closing its descriptors: do not ask it).
func RemoveServerSocket(bundle, id string) {
	b, err := os.ReadFile(filepath.Join(bundle, "address"))
	if err != nil || len(b) == 0 {
		return
	}
	address := string(b)
	if grouping(id) == id || !canConnect(address) {
		removeSocket(address)
	}
}

// deleteResponse is the task API's DeleteResponse (v2 and v3 alike: pid
// 1, exit_status 2, exited_at 3 as a google.protobuf.Timestamp of seconds
// 1 and nanos 2), which the delete action prints. It is written field by
// field so that this binary does without the task API's packages.
func deleteResponse(e bundlefile.Exit) []byte {
	var b []byte
	if e.Pid != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(uint32(e.Pid)))
	}
	if e.Status != 0 {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(uint32(e.Status)))
	}
	if !e.At.IsZero() {
		var ts []byte
		if s := e.At.Unix(); s != 0 {
			ts = protowire.AppendTag(ts, 1, protowire.VarintType)
			ts = protowire.AppendVarint(ts, uint64(s))
		}
		if n := e.At.Nanosecond(); n != 0 {
			ts = protowire.AppendTag(ts, 2, protowire.VarintType)
			ts = protowire.AppendVarint(ts, uint64(int64(n)))
		}
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendBytes(b, ts)
	}
	return b
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

// The socket address scheme of containerd's shim library
// (CreateSocketAddress, RemoveSocket, CanConnect, the bundle's "s" link),
// which this binary follows so that servers started by earlier versions
// of it are found: a unix socket named by the hash of containerd's
// address, the namespace and the group.

func socketAddress(socketDir, containerdAddress, ns, group string) string {
	d := sha256.Sum256([]byte(filepath.Join(containerdAddress, ns, group)))
	return fmt.Sprintf("unix://%s/%x", socketDir, d)
}

func socketPath(address string) string { return strings.TrimPrefix(address, "unix://") }

func removeSocket(address string) error {
	if !strings.HasPrefix(address, "unix://") {
		return nil // abstract: nothing on disk
	}
	return os.Remove(socketPath(address))
}

func canConnect(address string) bool {
	path := socketPath(address)
	if !strings.HasPrefix(address, "unix://") {
		path = "\x00" + path
	}
	c, err := net.DialTimeout("unix", path, 100*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

const socketDirLink = "s"

func writeSocketDir(dir string) error {
	if _, err := os.Lstat(socketDirLink); err == nil {
		if err := os.Remove(socketDirLink); err != nil {
			return fmt.Errorf("remove existing socket dir link: %w", err)
		}
	}
	if err := os.Symlink(dir, socketDirLink); err != nil {
		return fmt.Errorf("write socket dir link: %w", err)
	}
	return nil
}
