package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/testdaemon"
)

// criEnv is a private containerd with the CRI plugin: runtime handler
// wasmrun -> our shim, a CNI bridge of its own, a local sandbox image.
type criEnv struct {
	d         *testdaemon.Daemon
	crictlBin string
	dir       string // pod and container configs, logs
	bridge    string
	subnet    string // "10.236.N."
	cgroup    string // cgroup parent of the pods
}

const criSandboxImage = "docker.io/wasmrun/pause:test"

// criBusyboxImage is a native busybox image (ImportBusyboxImage).
const criBusyboxImage = "docker.io/wasmrun/busybox:test"

// startCRI starts a CRI daemon of release bin. octet picks the bridge
// subnet (10.<octet>.N.0/24, N from the pid) so releases do not collide.
func startCRI(t *testing.T, bin testdaemon.Binaries, octet int) *criEnv {
	t.Helper()
	crictl := testdaemon.CrictlPath(t)
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		t.Skip("CNI plugins missing in /usr/lib/cni (containernetworking-plugins)")
	}
	dir := t.TempDir()
	n := os.Getpid() % 250
	e := &criEnv{
		crictlBin: crictl, dir: dir,
		bridge: fmt.Sprintf("wcri%d-%d", octet, n),
		subnet: fmt.Sprintf("10.%d.%d.", octet, n),
		cgroup: fmt.Sprintf("/wasmrun-cri-%d-%d", octet, os.Getpid()),
	}
	confDir := filepath.Join(dir, "net.d")
	os.MkdirAll(confDir, 0o755)
	writeFile(t, filepath.Join(confDir, "10-wasmrun-test.conflist"), fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": %q,
  "plugins": [{
    "type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": false, "hairpinMode": true,
    "ipam": {"type": "host-local", "dataDir": %q, "ranges": [[{"subnet": "%s0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}
  }]
}`, e.bridge, e.bridge, filepath.Join(dir, "ipam"), e.subnet))
	t.Cleanup(func() {
		delBridge(e.bridge)
		removeCgroupTree(e.cgroup)
	})
	// deploy/install.sh puts the shim on the daemon's PATH and adds the
	// runtime handler to its config, as on a node.
	nodeBin := filepath.Join(dir, "node-bin")
	e.d = testdaemon.Start(t, bin, testdaemon.Options{
		PathDirs: []string{nodeBin},
		Env:      []string{"WASMRUN_CACHE_DIR=" + cacheDir},
		CRI:      &testdaemon.CRI{SandboxImage: criSandboxImage, CNIConfDir: confDir},
		EditConfig: func(config string) error {
			return runInstaller(t, filepath.Join(shimBinDir(t), "containerd-shim-wasmrun-v1"), nodeBin, config, bin.ConfigVersion)
		},
	})
	e.d.ImportSandboxImage(t, criSandboxImage)
	return e
}

// runInstaller runs deploy/install.sh twice (the second run must change
// nothing) and checks the config it wrote.
func runInstaller(t *testing.T, shim, binDir, config string, version int) error {
	for i := 0; i < 2; i++ {
		out, err := exec.Command("sh", filepath.Join(repoRoot(), "deploy", "install.sh"), "--shim", shim, "--bin-dir", binDir, "--config", config).CombinedOutput()
		if err != nil {
			return fmt.Errorf("deploy/install.sh: %v\n%s", err, out)
		}
		if i == 1 && strings.Contains(string(out), "added the wasmrun runtime") {
			return fmt.Errorf("deploy/install.sh changed the config again:\n%s", out)
		}
	}
	b, err := os.ReadFile(config)
	if err != nil {
		return err
	}
	want := map[int]string{3: "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.wasmrun]", 2: `[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.wasmrun]`}[version]
	if c := strings.Count(string(b), want); c != 1 {
		return fmt.Errorf("config has %d copies of %s:\n%s", c, want, b)
	}
	return nil
}

// removeCgroupTree removes a cgroup (and its empty children) from every
// v1 hierarchy and the unified one.
func removeCgroupTree(path string) {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	roots = append(roots, "/sys/fs/cgroup")
	var dirs []string // parents before children
	for _, r := range roots {
		filepath.WalkDir(filepath.Join(r, path), func(d string, de os.DirEntry, err error) error {
			if err == nil && de.IsDir() {
				dirs = append(dirs, d)
			}
			return nil
		})
	}
	// What a failed test left running there (a native container's process
	// has no id in its command line): thawed everywhere first (v1
	// freezer, v2 cgroup.freeze), so that it acts on its SIGKILL, then
	// killed; each directory goes once empty, children first.
	for _, d := range dirs {
		os.WriteFile(filepath.Join(d, "freezer.state"), []byte("THAWED"), 0)
		os.WriteFile(filepath.Join(d, "cgroup.freeze"), []byte("0"), 0)
	}
	procs := func(d string) []string {
		b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		return strings.Fields(string(b))
	}
	for _, d := range dirs {
		for _, f := range procs(d) {
			if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		waitUntil(5*time.Second, 10*time.Millisecond, func() bool { return len(procs(dirs[i])) == 0 })
		os.Remove(dirs[i])
	}
}

// importWasm imports an image whose entrypoint is wasm into the CRI
// namespace.
func (e *criEnv) importWasm(t *testing.T, ref, wasm string) {
	t.Helper()
	b, err := os.ReadFile(wasm)
	if err != nil {
		t.Fatal(err)
	}
	e.d.ImportImage(t, testdaemon.CRINamespace, ref, []testdaemon.ImageFile{{Name: "app.wasm", Mode: 0o755, Data: b}}, []string{"/app.wasm"}, nil, nil)
}

func (e *criEnv) crictl(t *testing.T, args ...string) string {
	t.Helper()
	return e.d.MustCrictl(t, e.crictlBin, args...)
}

func (e *criEnv) writeJSON(t *testing.T, name string, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(e.dir, name)
	writeFile(t, p, string(b))
	return p
}

// pod is a running pod sandbox.
type pod struct {
	id, config string
}

// runPod starts a pod sandbox with runtime handler wasmrun; it is stopped
// and removed at the end of the test.
func (e *criEnv) runPod(t *testing.T, name string) pod {
	t.Helper()
	return e.runPodWith(t, name, nil)
}

// runPodWith is runPod with more fields of the pod config.
func (e *criEnv) runPodWith(t *testing.T, name string, extra map[string]any) pod {
	t.Helper()
	config := map[string]any{
		"metadata":      map[string]any{"name": name, "namespace": "default", "uid": fmt.Sprintf("uid-%s-%d", name, os.Getpid()), "attempt": 0},
		"log_directory": filepath.Join(e.dir, "logs", name),
		"linux":         map[string]any{"cgroup_parent": e.cgroup},
	}
	maps.Copy(config, extra)
	cfg := e.writeJSON(t, "pod-"+name+".json", config)
	id := e.crictl(t, "runp", "--runtime", "wasmrun", cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		e.d.Crictl(ctx, e.crictlBin, "stopp", id)
		e.d.Crictl(ctx, e.crictlBin, "rmp", "-f", id)
	})
	return pod{id: id, config: cfg}
}

// container creates and starts a container of image with args in p.
func (e *criEnv) container(t *testing.T, p pod, name string, attempt int, image string, args []string, env map[string]string) string {
	t.Helper()
	return e.containerWith(t, p, name, attempt, image, args, env, nil)
}

// containerWith is container with more fields of the CRI container config
// (stdin, tty, ...).
func (e *criEnv) containerWith(t *testing.T, p pod, name string, attempt int, image string, args []string, env map[string]string, extra map[string]any) string {
	t.Helper()
	var envs []map[string]string
	for k, v := range env {
		envs = append(envs, map[string]string{"key": k, "value": v})
	}
	config := map[string]any{
		"metadata": map[string]any{"name": name, "attempt": attempt},
		"image":    map[string]any{"image": image},
		"args":     args,
		"envs":     envs,
		"log_path": fmt.Sprintf("%s-%d.log", name, attempt),
	}
	maps.Copy(config, extra)
	cfg := e.writeJSON(t, fmt.Sprintf("ctr-%s-%s-%d.json", p.id[:12], name, attempt), config)
	id := e.crictl(t, "create", p.id, cfg, p.config)
	e.crictl(t, "start", id)
	return id
}

// criStatus is the part of `crictl inspect -o json` the tests read.
type criStatus struct {
	Status struct {
		State    string `json:"state"`
		ExitCode int    `json:"exitCode"`
		Reason   string `json:"reason"`
	} `json:"status"`
	Info struct {
		Pid int `json:"pid"`
	} `json:"info"`
}

func (e *criEnv) inspect(t *testing.T, id string) criStatus {
	t.Helper()
	var s criStatus
	out := e.crictl(t, "inspect", "-o", "json", id)
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("crictl inspect %s: %v\n%s", id, err, out)
	}
	return s
}

// waitExited waits until container id has exited and returns its status.
func (e *criEnv) waitExited(t *testing.T, id string) criStatus {
	t.Helper()
	var s criStatus
	if !waitUntil(time.Minute, 50*time.Millisecond, func() bool {
		s = e.inspect(t, id)
		return s.Status.State == "CONTAINER_EXITED"
	}) {
		t.Fatalf("container %s: state %s after 1m\nlogs:\n%s\ndaemon log:\n%s", id, s.Status.State, e.logs(t, id), e.d.TailLog())
	}
	return s
}

func (e *criEnv) logs(t *testing.T, id string) string {
	t.Helper()
	out, _, _ := e.d.Crictl(t.Context(), e.crictlBin, "logs", id)
	return out
}

// waitLog waits until container id's log holds want.
func (e *criEnv) waitLog(t *testing.T, id, want string) {
	t.Helper()
	var out string
	if !waitUntil(time.Minute, 50*time.Millisecond, func() bool {
		out = e.logs(t, id)
		return strings.Contains(out, want)
	}) {
		t.Fatalf("container %s: log lacks %q after 1m:\n%s\nstate %+v", id, want, out, e.inspect(t, id))
	}
}

// podIP returns the pod's IP from `crictl inspectp`.
func (e *criEnv) podIP(t *testing.T, p pod) (ip string, pid int) {
	t.Helper()
	var s struct {
		Status struct {
			Network struct {
				IP string `json:"ip"`
			} `json:"network"`
		} `json:"status"`
		Info struct {
			Pid int `json:"pid"`
		} `json:"info"`
	}
	out := e.crictl(t, "inspectp", "-o", "json", p.id)
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("crictl inspectp: %v\n%s", err, out)
	}
	return s.Status.Network.IP, s.Info.Pid
}
