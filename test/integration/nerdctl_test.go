package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/guests"
	"github.com/wasmrun/wasmrun/internal/testdaemon"
)

// nerdctlEnv is nerdctl configured for one private containerd 2.4.2.
type nerdctlEnv struct {
	d       *testdaemon.Daemon
	bin     string
	toml    string
	network string
	bridge  string
}

const nerdctlNamespace = "wasmrun-nerdctl"

func (n *nerdctlEnv) run(ctx context.Context, args ...string) (string, string, error) {
	cmd := exec.CommandContext(ctx, n.bin, args...)
	cmd.Env = append(n.d.Env(), "NERDCTL_TOML="+n.toml)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("nerdctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(e.String()))
	}
	return o.String(), e.String(), err
}

func (n *nerdctlEnv) must(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, _, err := n.run(ctx, args...)
	if err != nil {
		t.Fatalf("%v\ndaemon log:\n%s", err, n.d.TailLog())
	}
	return strings.TrimSpace(out)
}

// TestNerdctl runs a wasm HTTP server with `nerdctl run -d --runtime
// io.containerd.wasmrun.v1 -p H:3000` (port mapping through nerdctl's OCI
// hooks) against containerd 2.4.2: two containers with the same container
// port on different host ports, logs, stop, rm, and no DNAT rules left.
func TestNerdctl(t *testing.T) {
	needRootShim(t)
	nerdctl := testdaemon.NerdctlPath(t)
	bin := testdaemon.Containerd2(t)
	if _, err := os.Stat("/usr/lib/cni/portmap"); err != nil {
		t.Skip("CNI plugins missing in /usr/lib/cni (containernetworking-plugins)")
	}
	httpWasm := guests.Go(t, "sockhttp")
	d := startShimDaemon(t, bin)
	dir := t.TempDir()
	id := os.Getpid() % 250
	n := &nerdctlEnv{d: d, bin: nerdctl, toml: filepath.Join(dir, "nerdctl.toml"),
		network: fmt.Sprintf("wnerd%d", id), bridge: fmt.Sprintf("wnerd%d", id)}
	os.MkdirAll(filepath.Join(dir, "cni"), 0o755)
	writeFile(t, n.toml, fmt.Sprintf(`address = %q
namespace = %q
data_root = %q
cni_path = "/usr/lib/cni"
cni_netconfpath = %q
hosts_dir = [%q]
`, "unix://"+d.Address, nerdctlNamespace, filepath.Join(dir, "data"), filepath.Join(dir, "cni"), filepath.Join(dir, "hosts")))
	t.Cleanup(func() {
		delBridge(n.bridge)
		removeCgroupTree("/" + nerdctlNamespace) // nerdctl's cgroup parent
	})
	// The network: our own bridge and subnet, with portmap for -p (nerdctl
	// network create cannot name the bridge).
	writeFile(t, filepath.Join(dir, "cni", "wasmrun-test.conflist"), fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": %q,
  "plugins": [
    {"type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": %q, "ranges": [[{"subnet": "10.238.%d.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}
  ]
}`, n.network, n.bridge, filepath.Join(dir, "ipam"), id))

	ref := "docker.io/wasmrun/sockhttp:nerdctl"
	img := ociImage(t, ref, httpWasm, []string{"serve", "0.0.0.0:3000"}, nil)
	ctx, cancel := testContext()
	defer cancel()
	if _, _, err := d.CtrNS(ctx, nerdctlNamespace, "images", "import", img); err != nil {
		t.Fatal(err)
	}

	ports := []int{freePort(t, "tcp"), freePort(t, "tcp")}
	for ports[1] == ports[0] {
		ports[1] = freePort(t, "tcp")
	}
	names := []string{fmt.Sprintf("web-a-%d", os.Getpid()), fmt.Sprintf("web-b-%d", os.Getpid())}
	for i, name := range names {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			n.run(ctx, "rm", "-f", name)
		})
		n.must(t, "run", "-d", "--runtime", shimRuntime, "--net", n.network, "-p", fmt.Sprintf("127.0.0.1:%d:3000", ports[i]), "--name", name, ref)
	}
	for i, name := range names {
		n.waitLogs(t, name, "listening 3000\n")
		resp, err := rawHTTPGet(fmt.Sprintf("127.0.0.1:%d", ports[i]), "/"+name)
		if err != nil || !strings.HasPrefix(resp, "HTTP/1.0 200") || !strings.HasSuffix(resp, "hello /"+name) {
			t.Errorf("GET 127.0.0.1:%d/%s: %v\n%s", ports[i], name, err, resp)
		}
	}
	if rules := dnatRules(t, ports); len(rules) != 2 {
		t.Errorf("DNAT rules for ports %v while running: %q, want one each", ports, rules)
	}

	// stop (SIGTERM) and rm of the first, rm -f of the running second.
	n.must(t, "stop", "-t", "5", names[0])
	if ps := n.must(t, "ps", "-a", "--format", "{{.Names}} {{.Status}}"); !strings.Contains(ps, names[0]+" Exited") {
		t.Errorf("nerdctl ps -a after stop:\n%s", ps)
	}
	n.must(t, "rm", names[0])
	n.must(t, "rm", "-f", names[1])
	if ps := n.must(t, "ps", "-a", "-q"); ps != "" {
		t.Errorf("containers left after rm: %s", ps)
	}
	if rules := dnatRules(t, ports); len(rules) != 0 {
		t.Errorf("DNAT rules left after rm -f:\n%s", strings.Join(rules, "\n"))
	}
	for _, p := range ports {
		if _, err := rawHTTPGet(fmt.Sprintf("127.0.0.1:%d", p), "/"); err == nil {
			t.Errorf("127.0.0.1:%d still answers after rm", p)
		}
	}
	testNerdctlNative(t, n)
}

// testNerdctlNative: a native image under the same runtime (busybox
// httpd, run by runc) with -p through nerdctl's hooks: it answers on the
// host port, and rm -f leaves no DNAT rule.
func testNerdctlNative(t *testing.T, n *nerdctlEnv) {
	bb, err := os.ReadFile(testdaemon.BusyboxStatic)
	if err != nil {
		t.Skipf("busybox-static is not installed: %v", err)
	}
	ref := "docker.io/wasmrun/busybox-httpd:nerdctl"
	n.d.ImportImage(t, nerdctlNamespace, ref, []testdaemon.ImageFile{
		{Name: "bin/busybox", Mode: 0o755, Data: bb},
		{Name: "www/index.html", Mode: 0o644, Data: []byte("native hello\n")},
	}, []string{"/bin/busybox"}, []string{"httpd", "-f", "-p", "3000", "-h", "/www"}, nil)
	port := freePort(t, "tcp")
	name := fmt.Sprintf("native-%d", os.Getpid())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		n.run(ctx, "rm", "-f", name)
	})
	n.must(t, "run", "-d", "--runtime", shimRuntime, "--net", n.network, "-p", fmt.Sprintf("127.0.0.1:%d:3000", port), "--name", name, ref)
	var resp string
	if !waitUntil(30*time.Second, 50*time.Millisecond, func() bool {
		resp, err = rawHTTPGet(fmt.Sprintf("127.0.0.1:%d", port), "/")
		return err == nil && strings.HasSuffix(resp, "native hello\n")
	}) {
		t.Fatalf("native httpd on 127.0.0.1:%d: %v\n%s\ndaemon log:\n%s", port, err, resp, n.d.TailLog())
	}
	n.must(t, "rm", "-f", name)
	if rules := dnatRules(t, []int{port}); len(rules) != 0 {
		t.Errorf("DNAT rules left after rm -f of the native container:\n%s", strings.Join(rules, "\n"))
	}
}

func (n *nerdctlEnv) waitLogs(t *testing.T, name, want string) {
	t.Helper()
	var out string
	var err error
	if !waitUntil(time.Minute, 50*time.Millisecond, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, _, err = n.run(ctx, "logs", name)
		return strings.Contains(out, want)
	}) {
		t.Fatalf("nerdctl logs %s lacks %q after 1m (%v):\n%s\ndaemon log:\n%s", name, want, err, out, n.d.TailLog())
	}
}

// dnatRules lists the nat table's DNAT rules for the given host ports.
func dnatRules(t *testing.T, ports []int) []string {
	t.Helper()
	out, err := exec.Command("iptables-save", "-t", "nat").Output()
	if err != nil {
		t.Fatalf("iptables-save: %v", err)
	}
	var rules []string
	for _, l := range strings.Split(string(out), "\n") {
		if !strings.Contains(l, "DNAT") {
			continue
		}
		for _, p := range ports {
			if strings.Contains(l, fmt.Sprintf("--dport %d ", p)) {
				rules = append(rules, l)
			}
		}
	}
	return rules
}
