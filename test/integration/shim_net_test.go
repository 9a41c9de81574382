package integration

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/wasmrun/wasmrun/internal/testdaemon"
)

// testShimHTTP runs a guest HTTP server in its own namespace and reaches it
// from inside that namespace (/proc/<task pid>/ns/net).
func testShimHTTP(t *testing.T, d *testdaemon.Daemon, rootfs string) {
	id := newID("http")
	out := filepath.Join(t.TempDir(), "out.log")
	pid := startDetached(t, d, rootfs, id, []string{"--log-uri", "file://" + out}, "serve", "127.0.0.1:8080")
	var b []byte
	waitUntil(time.Minute, 20*time.Millisecond, func() bool {
		b, _ = os.ReadFile(out)
		return strings.Contains(string(b), "listening 8080\n") || pidGone(pid) // a guest that is gone will not listen
	})
	if !strings.Contains(string(b), "listening 8080\n") {
		t.Fatalf("guest did not listen:\n%s", b)
	}
	c, err := dialIn(fmt.Sprintf("/proc/%d/ns/net", pid), "127.0.0.1:8080")
	if err != nil {
		t.Fatalf("connect to the guest inside its namespace: %v", err)
	}
	resp, err := httpGetConn(c, "/from-test")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp, "HTTP/1.0 200") || !strings.HasSuffix(resp, "hello /from-test") {
		t.Errorf("response:\n%s", resp)
	}
}

// testShimOutbound: a task in a namespace the shim made reaches the
// outside (through host sockets the shim makes), not the host itself.
func testShimOutbound(t *testing.T, d *testdaemon.Daemon, rootfs string) {
	out := newOutsideHost(t, newOSEnv(t))
	addr := net.JoinHostPort(out.addr, fmt.Sprint(out.port))
	if stdout, code := ctrRun(t, d, rootfs, newID("out"), nil, "dial", addr); code != 0 || stdout != "connected\n" || out.accepted.Load() != 1 {
		t.Errorf("task dialing the outside %s: exit %d, stdout %q, %d accepted", addr, code, stdout, out.accepted.Load())
	}
	srv := newHostListenerAll(t)
	_, port, _ := net.SplitHostPort(srv.addr)
	if stdout, code := ctrRun(t, d, rootfs, newID("out"), nil, "dial", net.JoinHostPort(out.hostAddr, port)); code == 0 {
		t.Errorf("task reached the host's %s:%s: %q", out.hostAddr, port, stdout)
	}
	srv.notReached(t)
}

// testShimBridge: a shim config with [network] bridge = true gives the
// task's namespace an address on a CNI bridge (a private bridge, subnet
// and namespace prefix for this test).
func testShimBridge(t *testing.T, d *testdaemon.Daemon, rootfs string) {
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		if _, err2 := os.Stat("/opt/cni/bin/bridge"); err2 != nil {
			t.Skip("CNI bridge plugin missing (containernetworking-plugins)")
		}
	}
	dir := t.TempDir()
	n := os.Getpid() % 200
	bridge := fmt.Sprintf("wst%d", os.Getpid())
	prefix := fmt.Sprintf("wst%d", os.Getpid())
	config := filepath.Join(dir, "shim.toml")
	writeFile(t, config, fmt.Sprintf(`[network]
bridge = true
prefix = %q
bridge_name = %q
network_name = %q
subnet = "10.234.%d.0/24"
state_dir = %q
`, prefix, bridge, bridge, n, filepath.Join(dir, "netns-state")))
	t.Cleanup(func() {
		delBridge(bridge)
		os.RemoveAll(filepath.Join("/run/wasmrun/ipam", bridge)) // host-local's lease dir
	})

	id := newID("bridge")
	pid := startDetached(t, d, rootfs, id, []string{"--runtime-config-path", config})
	if _, err := os.Stat("/run/netns/" + prefix + "-" + id); err != nil {
		t.Fatalf("namespace with the configured prefix: %v", err)
	}
	addrs, err := addrsInNetns(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("10.234.%d.", n)
	if !strings.Contains(strings.Join(addrs, " "), want) {
		t.Errorf("namespace addresses %v, want one in %s0/24", addrs, want)
	}
	removeTask(t, d, id)
	if _, err := os.Stat("/run/netns/" + prefix + "-" + id); !os.IsNotExist(err) {
		t.Errorf("namespace %s-%s left after delete", prefix, id)
	}
	if _, err := os.Stat("/sys/class/net/" + bridge); !os.IsNotExist(err) {
		t.Errorf("bridge %s left after its only task was deleted (%v)", bridge, err)
	}
}

// addrsInNetns lists the interface addresses inside a namespace.
func addrsInNetns(nsPath string) ([]string, error) {
	var out []string
	err := ns.WithNetNSPath(nsPath, func(ns.NetNS) error {
		addrs, err := net.InterfaceAddrs()
		for _, a := range addrs {
			out = append(out, a.String())
		}
		return err
	})
	return out, err
}

// testShimSandbox: a CRI pod sandbox container (native pause image) runs
// the shim's built-in pause module in its new namespace until killed.
func testShimSandbox(t *testing.T, d *testdaemon.Daemon) {
	native := t.TempDir()
	writeFile(t, filepath.Join(native, "pause"), "\x7fELF not wasm")
	id := newID("sandbox")
	d.MustCtr(t, "run", "-d", "--runtime", shimRuntime, "--annotation", "io.kubernetes.cri.container-type=sandbox", "--rootfs", native, id, "/pause")
	t.Cleanup(func() { removeTask(t, d, id) })
	ti := waitTask(t, d, id, "running", running)
	if nsInode(t, fmt.Sprintf("/proc/%d/ns/net", ti.pid)) != nsInode(t, netnsPath(id)) {
		t.Errorf("sandbox process is not in the namespace %s", netnsPath(id))
	}
	// It idles (sleeping in poll_oneoff, state S), not spinning or gone.
	var state string
	waitUntil(10*time.Second, 20*time.Millisecond, func() bool {
		state = procState(ti.pid)
		return state == "S" || pidGone(ti.pid) // a process that is gone will not sleep
	})
	if state != "S" {
		t.Fatalf("sandbox process state %q, want S (sleeping)", state)
	}
	if ti2 := taskList(t, d)[id]; ti2.status != "RUNNING" {
		t.Fatalf("sandbox task %+v, want RUNNING", ti2)
	}
	d.MustCtr(t, "task", "kill", "-s", "SIGKILL", id)
	waitTask(t, d, id, "stopped", stopped)
	waitPidGone(t, ti.pid)
}
