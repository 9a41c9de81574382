package integration

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	bootapi "github.com/containerd/containerd/api/runtime/bootstrap/v1"
	taskv2 "github.com/containerd/containerd/api/runtime/task/v2"
	taskv3 "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/containerd/api/types"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/protobuf/proto"
	"github.com/containerd/fifo"
	"github.com/containerd/ttrpc"

	"github.com/wasmrun/wasmrun/internal/testdaemon"
)

// TestShimStartProtocols drives the shim binary's start action the way
// each containerd generation does, without a daemon: protobuf
// BootstrapParams in and BootstrapResult out (>= 2.3), or nothing in and
// the plain address out (1.6-2.2). Both servers answer task API v2 and v3,
// write the bundle's address file, and shut down when asked.
func TestShimStartProtocols(t *testing.T) {
	needRootShim(t)
	shim := filepath.Join(shimBinDir(t), "containerd-shim-wasmrun-v1")
	for _, bootstrap := range []bool{true, false} {
		name := map[bool]string{true: "bootstrap", false: "plain_address"}[bootstrap]
		t.Run(name, func(t *testing.T) {
			bundle := t.TempDir()
			writeFile(t, filepath.Join(bundle, "config.json"), "{}")
			// The server logs to the bundle's "log" FIFO, which containerd
			// creates and reads.
			logFifo, err := fifo.OpenFifo(context.Background(), filepath.Join(bundle, "log"), syscall.O_RDONLY|syscall.O_CREAT|syscall.O_NONBLOCK, 0o700)
			if err != nil {
				t.Fatal(err)
			}
			var shimLog bytes.Buffer
			logDone := make(chan struct{})
			go func() {
				io.Copy(&shimLog, logFifo)
				close(logDone)
			}()
			t.Cleanup(func() {
				logFifo.Close()
				<-logDone
				if t.Failed() {
					t.Logf("shim log:\n%s", shimLog.String())
				}
			})
			sockDir, err := os.MkdirTemp("", "shs")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(sockDir) })
			id, ns := newID("start"), "wasmrun-test"
			grpcAddr := filepath.Join(sockDir, "containerd.sock")

			var stdin []byte
			if bootstrap {
				stdin, err = proto.Marshal(&bootapi.BootstrapParams{
					InstanceID: id, Namespace: ns, ContainerdGrpcAddress: grpcAddr,
					ContainerdTtrpcAddress: grpcAddr + ".ttrpc", SocketDir: &sockDir,
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(shim, "-namespace", ns, "-address", grpcAddr, "-id", id, "start")
			cmd.Dir = bundle
			cmd.Stdin = bytes.NewReader(stdin)
			cmd.Env = append(os.Environ(), "TTRPC_ADDRESS="+grpcAddr+".ttrpc")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("start: %v\n%s", err, stderr.String())
			}
			address := string(out)
			if bootstrap {
				var res bootapi.BootstrapResult
				if err := proto.Unmarshal(out, &res); err != nil {
					t.Fatalf("start output is not a BootstrapResult: %v (%q)", err, out)
				}
				if res.Version != 3 || res.Protocol != "ttrpc" || !strings.HasPrefix(res.Address, "unix://"+sockDir+"/") {
					t.Fatalf("BootstrapResult %+v: want version 3, ttrpc, a socket in %s", &res, sockDir)
				}
				address = res.Address
			} else if !strings.HasPrefix(address, "unix:///") || strings.ContainsAny(address, "\n\x00") {
				t.Fatalf("start output %q is not a plain unix:// address", out)
			}
			if got := readFile(t, filepath.Join(bundle, "address")); got != address {
				t.Errorf("address file %q, want %q", got, address)
			}

			conn, err := net.Dial("unix", strings.TrimPrefix(address, "unix://"))
			if err != nil {
				t.Fatal(err)
			}
			client := ttrpc.NewClient(conn)
			defer client.Close()
			ctx := namespaces.WithNamespace(context.Background(), ns)
			v2, err := taskv2.NewTTRPCTaskClient(client).Connect(ctx, &taskv2.ConnectRequest{ID: id})
			if err != nil {
				t.Fatalf("task v2 Connect: %v", err)
			}
			v3, err := taskv3.NewTTRPCTaskClient(client).Connect(ctx, &taskv3.ConnectRequest{ID: id})
			if err != nil {
				t.Fatalf("task v3 Connect: %v", err)
			}
			if v2.ShimPid == 0 || v2.ShimPid != v3.ShimPid {
				t.Fatalf("shim pid v2 %d, v3 %d", v2.ShimPid, v3.ShimPid)
			}
			// An unknown task is NotFound, not some other error.
			if _, err := taskv3.NewTTRPCTaskClient(client).State(ctx, &taskv3.StateRequest{ID: "nope"}); err == nil || !strings.Contains(err.Error(), "not found") {
				t.Errorf("State of an unknown task: %v, want not found", err)
			}
			if _, err := taskv3.NewTTRPCTaskClient(client).Shutdown(ctx, &taskv3.ShutdownRequest{ID: id}); err != nil && !strings.Contains(err.Error(), "closed") {
				t.Fatalf("Shutdown: %v", err)
			}
			waitPidGone(t, int(v3.ShimPid))
		})
	}
}

// TestShimInfoVersion: -info (containerd's runtime introspection), which
// the shim binary hands to its server program, answers the runtime's
// protobuf RuntimeInfo; -v names the binary and the version.
func TestShimInfoVersion(t *testing.T) {
	needRootShim(t)
	shim := filepath.Join(shimBinDir(t), "containerd-shim-wasmrun-v1")
	cmd := exec.Command(shim, "-info")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("-info: %v\n%s", err, stderr.String())
	}
	var info types.RuntimeInfo
	if err := proto.Unmarshal(out, &info); err != nil {
		t.Fatalf("-info output is not a RuntimeInfo: %v (%q)", err, out)
	}
	if info.Name != "io.containerd.wasmrun.v1" || info.GetVersion().GetVersion() == "" {
		t.Errorf("RuntimeInfo %v: want name io.containerd.wasmrun.v1 and a version", &info)
	}
	v, err := exec.Command(shim, "-v").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(v), "containerd-shim-wasmrun-v1:\n") || !strings.Contains(string(v), "Version:") {
		t.Errorf("-v: %v\n%s", err, v)
	}
}

// copyExecutable puts a copy of the program src at dst (by itself: not
// with the programs next to src).
func copyExecutable(t *testing.T, src, dst string) {
	t.Helper()
	copyFile(t, src, dst)
	if err := os.Chmod(dst, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestShimStartNoServer: a shim binary installed without its server
// program fails its start action with one line that names the missing
// program, and leaves no socket, address file or process behind.
func TestShimStartNoServer(t *testing.T) {
	needRootShim(t)
	dir := t.TempDir()
	shim := filepath.Join(dir, "containerd-shim-wasmrun-v1")
	copyExecutable(t, filepath.Join(shimBinDir(t), "containerd-shim-wasmrun-v1"), shim)
	bundle := t.TempDir()
	writeFile(t, filepath.Join(bundle, "config.json"), "{}")
	sockDir := t.TempDir()
	id, ns := newID("noserver"), "wasmrun-test"
	grpcAddr := filepath.Join(sockDir, "containerd.sock")
	stdin, err := proto.Marshal(&bootapi.BootstrapParams{InstanceID: id, Namespace: ns, ContainerdGrpcAddress: grpcAddr, SocketDir: &sockDir})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(shim, "-namespace", ns, "-address", grpcAddr, "-id", id, "start")
	cmd.Dir = bundle
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err == nil {
		t.Fatalf("start without the server program succeeded: %q", out)
	}
	msg := strings.TrimSpace(stderr.String())
	if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, filepath.Join(dir, "wasmrun-shim")+" is missing") {
		t.Errorf("stderr %q: want one line naming %s as missing", msg, filepath.Join(dir, "wasmrun-shim"))
	}
	if len(out) != 0 {
		t.Errorf("stdout %q, want nothing", out)
	}
	if ents, _ := os.ReadDir(sockDir); len(ents) != 0 {
		t.Errorf("left in the socket directory: %v", ents)
	}
	if _, err := os.Stat(filepath.Join(bundle, "address")); !os.IsNotExist(err) {
		t.Errorf("address file left (%v)", err)
	}
	if pids := processesOf(id); len(pids) != 0 {
		t.Errorf("processes left: %v", pids)
	}
}

// testShimDeleteAction: with the daemon down and the shim killed, the
// shim binary's delete action alone cleans up the task from its bundle
// (namespace, state) and reports the kill; run again (as the restarted
// daemon does), it is a no-op.
func testShimDeleteAction(t *testing.T, d *testdaemon.Daemon, rootfs string) {
	id := newID("delact")
	pid := startDetached(t, d, rootfs, id, nil)
	bundle := filepath.Join(d.Dir, "state", "io.containerd.runtime.v2.task", testdaemon.Namespace, id)
	shimPid := ppid(t, pid)
	d.Stop(t)
	defer d.Relaunch(t)
	if err := syscall.Kill(shimPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitPidGone(t, pid)
	if _, err := os.Stat(netnsPath(id)); err != nil {
		t.Fatalf("namespace before the delete action: %v", err)
	}
	shim := filepath.Join(shimBinDir(t), "containerd-shim-wasmrun-v1")
	// The delete action never marks the task removed (only the server's
	// Delete does, before containerd removes the bundle): run again, it
	// does the whole cleanup again, which finds nothing left.
	for i := range 2 {
		cmd := exec.Command(shim, "-namespace", testdaemon.Namespace, "-address", d.Address, "-id", id, "-bundle", bundle, "delete")
		cmd.Dir = bundle
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("delete action #%d: %v\n%s", i+1, err, stderr.String())
		}
		var resp taskv3.DeleteResponse
		if err := proto.Unmarshal(out, &resp); err != nil {
			t.Fatalf("delete action #%d output: %v", i+1, err)
		}
		if resp.ExitStatus != 137 || int(resp.Pid) != pid {
			t.Errorf("delete action #%d: exit %d pid %d, want 137 and %d", i+1, resp.ExitStatus, resp.Pid, pid)
		}
	}
	if _, err := os.Stat(netnsPath(id)); !os.IsNotExist(err) {
		t.Errorf("%s left after the delete action", netnsPath(id))
	}
	if _, err := os.Stat(filepath.Join(bundle, "wasmrun", id)); !os.IsNotExist(err) {
		t.Errorf("oci state left after the delete action (%v)", err)
	}
}
