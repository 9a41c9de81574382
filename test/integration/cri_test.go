package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/guests"
	"github.com/wasmrun/wasmrun/internal/testdaemon"
	"golang.org/x/sys/unix"
)

// criDaemons are the releases the CRI flows run on, each with its own
// bridge subnet octet.
var criDaemons = []struct {
	name  string
	bin   func(testdaemon.TB) testdaemon.Binaries
	octet int
}{
	{"containerd-2.4.2", testdaemon.Containerd2, 236},
	{"containerd-1.6", testdaemon.Containerd16, 237},
}

// TestCRI runs wasm pods through containerd's CRI plugin with crictl:
// runtime handler wasmrun, the sandbox container through our shim.
func TestCRI(t *testing.T) {
	needRootShim(t)
	argsWasm := guests.C(t, "args_env_exit")
	httpWasm := guests.Go(t, "sockhttp")
	catWasm := guests.C(t, "cat")
	hogWasm := guests.C(t, "hog")
	for _, v := range criDaemons {
		t.Run(v.name, func(t *testing.T) {
			e := startCRI(t, v.bin(t), v.octet)
			e.importWasm(t, "docker.io/wasmrun/args:test", argsWasm)
			e.importWasm(t, "docker.io/wasmrun/sockhttp:test", httpWasm)
			e.importWasm(t, "docker.io/wasmrun/cat:test", catWasm)
			e.importWasm(t, "docker.io/wasmrun/hog:test", hogWasm)
			t.Run("output_exit_codes_restart", func(t *testing.T) { testCRIOutput(t, e) })
			t.Run("attach", func(t *testing.T) { testCRIAttach(t, e) })
			t.Run("oom_killed", func(t *testing.T) { testCRIOOMKilled(t, e) })
			t.Run("oom_score_adj", func(t *testing.T) { testCRIOOMScore(t, e) })
			t.Run("sysctls", func(t *testing.T) { testCRISysctls(t, e) })
			t.Run("http_pod", func(t *testing.T) { testCRIHTTPPod(t, e) })
			t.Run("host_network", func(t *testing.T) { testCRIHostNetwork(t, e) })
			e.d.ImportBusyboxImage(t, testdaemon.CRINamespace, criBusyboxImage, busyboxApplets...)
			t.Run("mixed_pod", func(t *testing.T) { testCRIMixedPod(t, e) })
		})
	}
}

// testCRIOutput: a pod whose wasm containers print and exit; crictl logs
// shows the output, crictl inspect the exit code and reason, and a second
// attempt of the same container (a restart) runs again.
func testCRIOutput(t *testing.T, e *criEnv) {
	p := e.runPod(t, "hello")
	failed := e.container(t, p, "failed", 0, "docker.io/wasmrun/args:test", []string{"3", "from-cri"}, map[string]string{"GREETING": "cri"})
	s := e.waitExited(t, failed)
	if s.Status.ExitCode != 3 || s.Status.Reason != "Error" {
		t.Errorf("exit code %d reason %q, want 3 Error", s.Status.ExitCode, s.Status.Reason)
	}
	out := e.logs(t, failed)
	for _, want := range []string{"arg 1 [3]", "arg 2 [from-cri]", "lookup GREETING [cri]"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("crictl logs lacks %q:\n%s", want, out)
		}
	}

	// The restart: attempt 1 of the same container, exiting 0.
	e.crictl(t, "rm", failed)
	ok := e.container(t, p, "failed", 1, "docker.io/wasmrun/args:test", []string{"0", "again"}, nil)
	s = e.waitExited(t, ok)
	if s.Status.ExitCode != 0 || s.Status.Reason != "Completed" {
		t.Errorf("restart: exit code %d reason %q, want 0 Completed", s.Status.ExitCode, s.Status.Reason)
	}
	if out := e.logs(t, ok); !strings.Contains(out, "arg 2 [again]\n") {
		t.Errorf("restart: crictl logs:\n%s", out)
	}
	ps := e.crictl(t, "ps", "-a", "-q", "--pod", p.id)
	if !strings.Contains(ps, ok) || strings.Contains(ps, failed) {
		t.Errorf("crictl ps -a --pod: %q, want %s only", ps, ok)
	}
}

// testCRIAttach: `crictl attach -i` (kubectl attach -i, and kubectl run
// -i) feeds a wasm container's stdin and shows its output; with
// stdin_once, the end of the attached input is the end of the guest's.
func testCRIAttach(t *testing.T, e *criEnv) {
	p := e.runPod(t, "attach")
	id := e.containerWith(t, p, "cat", 0, "docker.io/wasmrun/cat:test", nil, nil,
		map[string]any{"stdin": true, "stdin_once": true})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd, err := e.d.CrictlCommand(ctx, e.crictlBin, "attach", "-i", id)
	if err != nil {
		t.Fatal(err)
	}
	// The input ends once it is back: an input that ends at once can
	// reach CRI as an attach whose stdin closed before its data (with
	// runc too), which stdin_once turns into the guest's EOF.
	in, feed := io.Pipe()
	cmd.Stdin = in
	out := newWatchBuffer()
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = out, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go feed.Write([]byte("attached one\nattached two\n"))
	const back = "attached one\nattached two\n"
	if !waitUntil(30*time.Second, 20*time.Millisecond, func() bool { return strings.Contains(out.String(), back) }) {
		t.Errorf("crictl attach output %q, want the input back", out.String())
	}
	feed.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("crictl attach: %v\n%s", err, stderr.String())
	}
	if s := e.waitExited(t, id); s.Status.ExitCode != 0 {
		t.Errorf("exit code %d after its input ended, want 0\n%s", s.Status.ExitCode, e.logs(t, id))
	}
	// crictl logs writes the container's stderr to its own.
	logs, logErr, err := e.d.Crictl(t.Context(), e.crictlBin, "logs", id)
	if err != nil || !strings.Contains(logs, "attached one\nattached two\n") || !strings.Contains(logErr, "copied 26\n") {
		t.Errorf("crictl logs (%v): stdout:\n%s\nstderr:\n%s", err, logs, logErr)
	}
	e.crictl(t, "stopp", p.id)
	e.crictl(t, "rmp", p.id)
	e.checkNoLeaks(t, p.id, id)
}

// testCRIOOMKilled: a wasm container that the kernel's OOM killer ends
// (it fills a memory-backed volume, as an emptyDir of medium Memory, past
// its memory limit: those pages are charged to its cgroup and cannot be
// reclaimed) is reported OOMKilled, as a runc container is: the shim
// publishes TaskOOM, which containerd 1.6 needs (2.x also reads the
// cgroup's OOM count from the task's metrics when it sees exit 137).
func testCRIOOMKilled(t *testing.T, e *criEnv) {
	vol := t.TempDir()
	if err := unix.Mount("tmpfs", vol, "tmpfs", 0, "size=256m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(vol, unix.MNT_DETACH) })
	p := e.runPod(t, "oom")
	id := e.containerWith(t, p, "hog", 0, "docker.io/wasmrun/hog:test", []string{"tmp"}, nil, map[string]any{
		"mounts": []map[string]any{{"container_path": "/tmp", "host_path": vol}},
		// No swap either: tmpfs pages may be swapped out where there is swap.
		"linux": map[string]any{"resources": map[string]any{"memory_limit_in_bytes": 48 << 20, "memory_swap_limit_in_bytes": 48 << 20}},
	})
	s := e.waitExited(t, id)
	if s.Status.Reason != "OOMKilled" || s.Status.ExitCode != 137 {
		t.Errorf("reason %q, exit code %d, want OOMKilled and 137\n%s", s.Status.Reason, s.Status.ExitCode, e.logs(t, id))
	}
	e.crictl(t, "stopp", p.id)
	e.crictl(t, "rmp", p.id)
	e.checkNoLeaks(t, p.id, id)
}

// testCRIOOMScore: a wasm container's process has the OOM score the
// kubelet gives its QoS class (CRI oom_score_adj: 1000 for BestEffort,
// -997 for Guaranteed, between for Burstable), higher or lower than the
// shim's, so that under node memory pressure the kernel kills in that
// order. Before, it kept the shim's, containerd's (-998 under systemd):
// the OOM killer took any other process, another pod's too, before it.
func testCRIOOMScore(t *testing.T, e *criEnv) {
	p := e.runPod(t, "oomscore")
	for i, score := range []int{1000, 800, -500} {
		id := e.containerWith(t, p, fmt.Sprintf("s%d", i), 0, "docker.io/wasmrun/sockhttp:test", []string{"serve", "127.0.0.1:0"}, nil,
			map[string]any{"linux": map[string]any{"resources": map[string]any{"oom_score_adj": score}}})
		e.waitLog(t, id, "listening ")
		pid := e.inspect(t, id).Info.Pid
		got, _ := strconv.Atoi(strings.TrimSpace(readFile(t, fmt.Sprintf("/proc/%d/oom_score_adj", pid))))
		shim, _ := strconv.Atoi(strings.TrimSpace(readFile(t, fmt.Sprintf("/proc/%d/oom_score_adj", ppid(t, pid)))))
		switch {
		case score >= shim && got != score:
			t.Errorf("oom_score_adj %d: the container process has %d", score, got)
		case score < shim && got != score && got != shim:
			// Lower than the shim's takes CAP_SYS_RESOURCE, which
			// root lacks on some machines (this one): it may stay
			// the shim's, and the container still runs.
			t.Errorf("oom_score_adj %d, below the shim's %d: the container process has %d", score, shim, got)
		}
	}
	e.crictl(t, "stopp", p.id)
	e.crictl(t, "rmp", p.id)
}

// testCRISysctls: a pod's sysctls (CRI puts them in its sandbox's spec)
// are set in the pod's namespaces, as runc sets them: here
// net.ipv4.ip_unprivileged_port_start at 0 (containerd's
// enable_unprivileged_ports, which lets a non-root server without
// capabilities listen on port 80) in the pod's network namespace. A sysctl
// that would change the host (one of no namespace, or a network one in a
// hostNetwork pod) is refused, and the host's value stays.
func testCRISysctls(t *testing.T, e *criEnv) {
	p := e.runPodWith(t, "sysctl", map[string]any{"linux": map[string]any{
		"cgroup_parent": e.cgroup,
		"sysctls":       map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"},
	}})
	id := e.container(t, p, "web", 0, "docker.io/wasmrun/sockhttp:test", []string{"serve", "0.0.0.0:8080"}, nil)
	e.waitLog(t, id, "listening 8080\n")
	// In the pod's network namespace (the host's is 1024).
	pid := e.inspect(t, id).Info.Pid
	out, err := exec.Command("nsenter", "-t", strconv.Itoa(pid), "-n", "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "0" {
		t.Errorf("net.ipv4.ip_unprivileged_port_start in the pod: %q (%v), want 0", out, err)
	}
	e.crictl(t, "stopp", p.id)
	e.crictl(t, "rmp", p.id)

	for _, tc := range []struct {
		name, key, value string
		linux            map[string]any
	}{
		{"no namespace", "kernel.panic", "7", nil},
		{"host network", "net.ipv4.ip_forward", "1", map[string]any{"security_context": map[string]any{"namespace_options": map[string]any{"network": 2}}}},
	} {
		file := "/proc/sys/" + strings.ReplaceAll(tc.key, ".", "/")
		before := readFile(t, file)
		linux := map[string]any{"cgroup_parent": e.cgroup, "sysctls": map[string]string{tc.key: tc.value}}
		maps.Copy(linux, tc.linux)
		cfg := e.writeJSON(t, "pod-sysctl-"+strings.ReplaceAll(tc.name, " ", "-")+".json", map[string]any{
			"metadata":      map[string]any{"name": "sysctl-bad", "namespace": "default", "uid": fmt.Sprintf("uid-sysctl-bad-%d", os.Getpid()), "attempt": 0},
			"log_directory": filepath.Join(e.dir, "logs", "sysctl-bad"),
			"linux":         linux,
		})
		out, stderr, err := e.d.Crictl(t.Context(), e.crictlBin, "runp", "--runtime", "wasmrun", cfg)
		if err == nil {
			e.d.Crictl(t.Context(), e.crictlBin, "stopp", strings.TrimSpace(out))
			e.d.Crictl(t.Context(), e.crictlBin, "rmp", strings.TrimSpace(out))
			t.Errorf("%s: a pod with sysctl %s=%s ran", tc.name, tc.key, tc.value)
		} else if !strings.Contains(stderr, tc.key) || !strings.Contains(stderr, "not allowed") {
			t.Errorf("%s: refused, but not for the sysctl:\n%s", tc.name, stderr)
		}
		if after := readFile(t, file); after != before {
			t.Errorf("%s: the host's %s changed from %q to %q", tc.name, tc.key, before, after)
		}
	}
}

// testCRIHTTPPod: a pod with a wasm HTTP server and a wasm client that
// reaches it over the pod's loopback; the server answers on the pod IP
// from the host; crictl stats reports it; stopping and removing the pod
// leaves no namespace, mount, veth or process.
func testCRIHTTPPod(t *testing.T, e *criEnv) {
	p := e.runPod(t, "web")
	ip, sandboxPid := e.podIP(t, p)
	if !strings.HasPrefix(ip, e.subnet) {
		t.Fatalf("pod IP %q, want one in %s0/24", ip, e.subnet)
	}
	server := e.container(t, p, "server", 0, "docker.io/wasmrun/sockhttp:test", []string{"serve", "0.0.0.0:8080"}, nil)
	e.waitLog(t, server, "listening 8080\n")
	serverPid := e.inspect(t, server).Info.Pid

	client := e.container(t, p, "client", 0, "docker.io/wasmrun/sockhttp:test", []string{"get", "http://127.0.0.1:8080/from-client"}, nil)
	if s := e.waitExited(t, client); s.Status.ExitCode != 0 {
		t.Errorf("client exit code %d\n%s", s.Status.ExitCode, e.logs(t, client))
	}
	if out := e.logs(t, client); !strings.Contains(out, "status 200\n") || !strings.Contains(out, "body hello /from-client\n") {
		t.Errorf("client output:\n%s", out)
	}

	// From the host, on the pod IP (our bridge's subnet).
	c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, "8080"), 10*time.Second)
	if err != nil {
		t.Fatalf("connect to the pod IP: %v", err)
	}
	resp, err := httpGetConn(c, "/from-host")
	if err != nil || !strings.HasPrefix(resp, "HTTP/1.0 200") || !strings.HasSuffix(resp, "hello /from-host") {
		t.Errorf("response from the pod IP (%v):\n%s", err, resp)
	}

	testCRIPortForward(t, e, p.id)
	testCRIStats(t, e, server)
	// containerd 2.x sends every task of the pod to the sandbox's shim.
	if e.d.Bin.ConfigVersion >= 3 {
		if shims := e.d.Processes(); len(shims) != 1 {
			t.Errorf("%d shim processes for one pod, want 1: %v", len(shims), shims)
		}
	}

	e.crictl(t, "stopp", p.id)
	e.crictl(t, "rmp", p.id)
	for _, pid := range []int{sandboxPid, serverPid} {
		if pid > 0 {
			waitPidGone(t, pid)
		}
	}
	e.checkNoLeaks(t, p.id, server, client)
}

// testCRIPortForward: `crictl port-forward` (what kubectl port-forward
// asks of the runtime) reaches the pod's server on its loopback port
// through a local port, and ends when stopped.
func testCRIPortForward(t *testing.T, e *criEnv, podID string) {
	local := freePort(t, "tcp")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cmd, err := e.d.CrictlCommand(ctx, e.crictlBin, "port-forward", podID, fmt.Sprintf("%d:8080", local))
	if err != nil {
		t.Fatal(err)
	}
	out := newWatchBuffer()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	defer func() { cancel(); <-done }()
	ready := fmt.Sprintf("Forwarding from 127.0.0.1:%d -> 8080", local)
	timeout := time.After(30 * time.Second)
	for {
		changed, ok := out.watch(ready)
		if ok {
			break
		}
		select {
		case <-changed:
		case <-done:
			t.Fatalf("crictl port-forward ended before it forwarded:\n%s", out)
		case <-timeout:
			t.Fatalf("crictl port-forward not forwarding after 30s:\n%s", out)
		}
	}
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", local), 10*time.Second)
	if err != nil {
		t.Fatalf("connect to the forwarded port: %v\n%s", err, out)
	}
	resp, err := httpGetConn(c, "/port-forward")
	if err != nil || !strings.HasPrefix(resp, "HTTP/1.0 200") || !strings.HasSuffix(resp, "hello /port-forward") {
		t.Errorf("response through crictl port-forward (%v):\n%s\ncrictl:\n%s", err, resp, out)
	}
}

// testCRIHostNetwork: a pod with hostNetwork (namespace_options network
// NODE) runs its wasm containers in the host's network namespace: a
// server there listens on the host's loopback, where the host reaches it,
// and no namespace of the pod's is made.
func testCRIHostNetwork(t *testing.T, e *criEnv) {
	hostNet := map[string]any{"security_context": map[string]any{"namespace_options": map[string]any{"network": 2}}}
	podLinux := map[string]any{"cgroup_parent": e.cgroup}
	maps.Copy(podLinux, hostNet)
	p := e.runPodWith(t, "hostnet", map[string]any{"linux": podLinux})
	port := freePort(t, "tcp")
	server := e.containerWith(t, p, "server", 0, "docker.io/wasmrun/sockhttp:test", []string{"serve", fmt.Sprintf("127.0.0.1:%d", port)}, nil,
		map[string]any{"linux": hostNet})
	e.waitLog(t, server, fmt.Sprintf("listening %d\n", port))
	pid := e.inspect(t, server).Info.Pid
	ours, _ := os.Readlink("/proc/self/ns/net")
	if theirs, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid)); err != nil || theirs != ours {
		t.Errorf("the container's network namespace is %q (%v), want the host's %q", theirs, err, ours)
	}
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second)
	if err != nil {
		t.Fatalf("connect to the server on the host's loopback: %v", err)
	}
	resp, err := httpGetConn(c, "/host-network")
	if err != nil || !strings.HasPrefix(resp, "HTTP/1.0 200") || !strings.HasSuffix(resp, "hello /host-network") {
		t.Errorf("response on the host's loopback (%v):\n%s", err, resp)
	}
	e.crictl(t, "stopp", p.id)
	e.crictl(t, "rmp", p.id)
	e.checkNoLeaks(t, p.id, server)
}

// testCRIStats: crictl stats shows CPU and memory of the running server.
func testCRIStats(t *testing.T, e *criEnv, id string) {
	var st criStats
	out := e.crictl(t, "stats", "-o", "json", "--id", id)
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("crictl stats: %v\n%s", err, out)
	}
	if len(st.Stats) != 1 || st.Stats[0].Attributes.ID != id {
		t.Fatalf("crictl stats --id %s:\n%s", id, out)
	}
	s := st.Stats[0]
	if s.CPU.UsageCoreNanoSeconds.Value == "" || s.CPU.UsageCoreNanoSeconds.Value == "0" || s.Memory.WorkingSetBytes.Value == "" || s.Memory.WorkingSetBytes.Value == "0" {
		t.Errorf("crictl stats without CPU or memory usage:\n%s", out)
	}
}

// checkNoLeaks: nothing of the removed pod remains: shims, network
// namespaces (under the daemon's state dir), mounts, veths on the bridge.
func (e *criEnv) checkNoLeaks(t *testing.T, ids ...string) {
	t.Helper()
	if !waitUntil(30*time.Second, 50*time.Millisecond, func() bool { return len(e.d.Processes()) == 0 }) {
		t.Fatalf("shim processes left after rmp: %v", e.d.Processes())
	}
	filepath.WalkDir(e.d.Dir, func(p string, de os.DirEntry, err error) error {
		if err == nil && de.IsDir() && de.Name() == "netns" {
			if ents, _ := os.ReadDir(p); len(ents) > 0 {
				t.Errorf("network namespaces left in %s: %v", p, ents)
			}
			return filepath.SkipDir
		}
		return nil
	})
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(mounts), "\n") {
		for _, id := range ids {
			if strings.Contains(l, id) {
				t.Errorf("mount of %s left: %s", id[:12], l)
			}
		}
	}
	if out, _ := exec.Command("ip", "-o", "link", "show", "master", e.bridge).Output(); len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("veths left on %s:\n%s", e.bridge, out)
	}
}

// testCRIMixedPod: a pod with a wasm HTTP server and a native (ELF)
// busybox sidecar, run by runc in the pod's network namespace, which
// fetches from the server over localhost; exec runs in the sidecar (runc
// exec) with its exit status; crictl stats reports the sidecar; removing
// the pod leaves nothing of either.
func testCRIMixedPod(t *testing.T, e *criEnv) {
	p := e.runPodWith(t, "mixed", map[string]any{"hostname": "mixed-pod"})
	_, sandboxPid := e.podIP(t, p)
	server := e.container(t, p, "server", 0, "docker.io/wasmrun/sockhttp:test", []string{"serve", "0.0.0.0:8080"}, nil)
	e.waitLog(t, server, "listening 8080\n")
	sidecar := e.container(t, p, "sidecar", 0, criBusyboxImage, []string{"/bin/sh", "-c",
		"wget -q -O- http://127.0.0.1:8080/from-sidecar; echo; mkdir -p /tmp/www; echo sidecar-page > /tmp/www/index.html; echo fetched; exec httpd -f -p 127.0.0.1:8081 -h /tmp/www"}, nil)
	e.waitLog(t, sidecar, "fetched\n")
	if out := e.logs(t, sidecar); !strings.Contains(out, "hello /from-sidecar\n") {
		t.Errorf("sidecar output:\n%s", out)
	}
	sidecarPid := e.inspect(t, sidecar).Info.Pid
	if c := cmdline(sidecarPid); !strings.HasPrefix(c, "httpd -f") {
		t.Errorf("sidecar pid %d runs %q, want the native httpd", sidecarPid, c)
	}
	// The sidecar is in the pod's network, UTS and IPC namespaces, which
	// the (wasm) sandbox made: the UTS and IPC ones are not the host's.
	for _, ns := range []string{"net", "uts", "ipc"} {
		got, want := nsInode(t, fmt.Sprintf("/proc/%d/ns/%s", sidecarPid, ns)), nsInode(t, fmt.Sprintf("/proc/%d/ns/%s", sandboxPid, ns))
		if got != want {
			t.Errorf("sidecar %s namespace %d, want the pod's %d", ns, got, want)
		}
		if host := nsInode(t, "/proc/self/ns/"+ns); ns != "net" && got == host {
			t.Errorf("sidecar %s namespace is the host's", ns)
		}
	}

	// Exec in the wasm server: a module of its image, in its network,
	// which reaches the sidecar's server on localhost too.
	if out := e.crictl(t, "exec", server, "/app.wasm", "get", "http://127.0.0.1:8080/from-exec"); !strings.Contains(out, "body hello /from-exec") {
		t.Errorf("crictl exec in the wasm server: %q", out)
	}
	var out string
	if !waitUntil(10*time.Second, 50*time.Millisecond, func() bool {
		out, _, _ = e.d.Crictl(t.Context(), e.crictlBin, "exec", server, "/app.wasm", "get", "http://127.0.0.1:8081/")
		return strings.Contains(out, "body sidecar-page")
	}) {
		t.Errorf("the wasm side does not reach the native sidecar's httpd on localhost: %q", out)
	}
	// Exec in the native sidecar: runc exec, in its namespaces.
	if out := e.crictl(t, "exec", sidecar, "/bin/sh", "-c", "echo exec-in-sidecar $(hostname)"); out != "exec-in-sidecar mixed-pod" {
		t.Errorf("crictl exec in the sidecar: %q, want exec-in-sidecar mixed-pod", out)
	}
	ctx, cancel := testContext()
	defer cancel()
	if _, stderr, err := e.d.Crictl(ctx, e.crictlBin, "exec", sidecar, "/bin/sh", "-c", "exit 5"); err == nil || !strings.Contains(stderr, "exit code 5") {
		t.Errorf("crictl exec of exit 5 in the sidecar: %v, %q, want exit code 5", err, stderr)
	}
	testCRIStats(t, e, sidecar)
	orphaner := testCRIHostPIDOrphans(t, e, p)

	e.crictl(t, "stopp", p.id)
	e.crictl(t, "rmp", p.id)
	for _, pid := range []int{sandboxPid, sidecarPid} {
		if pid > 0 {
			waitPidGone(t, pid)
		}
	}
	e.checkNoLeaks(t, p.id, server, sidecar, orphaner)
}

// testCRIHostPIDOrphans: a native container in the host's pid namespace
// (namespace_options pid NODE) leaves its orphans to its shim, their
// subreaper: the shim reaps them once they exit, no zombie stays. It
// returns the container's id.
func testCRIHostPIDOrphans(t *testing.T, e *criEnv, p pod) string {
	cfg := e.writeJSON(t, "ctr-orphaner.json", map[string]any{
		"metadata": map[string]any{"name": "orphaner"},
		"image":    map[string]any{"image": criBusyboxImage},
		"args":     []string{"/bin/sh", "-c", "(sleep 2 &); exec sleep 1000"},
		"log_path": "orphaner.log",
		"linux":    map[string]any{"security_context": map[string]any{"namespace_options": map[string]any{"pid": 2}}},
	})
	id := e.crictl(t, "create", p.id, cfg, p.config)
	e.crictl(t, "start", id)
	shim := ppid(t, e.inspect(t, id).Info.Pid)
	var orphan int
	if !waitUntil(10*time.Second, 10*time.Millisecond, func() bool {
		for _, c := range childrenOf(shim) {
			if cmdline(c) == "sleep 2" {
				orphan = c
			}
		}
		return orphan != 0
	}) {
		t.Fatalf("the orphan sleep 2 never became a child of the shim %d", shim)
	}
	if !waitUntil(10*time.Second, 10*time.Millisecond, func() bool { return procState(orphan) == "" }) {
		t.Errorf("orphan %d of the host-pid native container: state %q after it exited, want reaped by the shim", orphan, procState(orphan))
	}
	return id
}
