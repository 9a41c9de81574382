package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/cni"
	"github.com/wasmrun/wasmrun/oci"
)

// The `wasmrun os` tests run real network namespaces, so they need root.
// Every test gets an osEnv: its own namespace prefix, state directory
// (WASMRUN_STATE_DIR), CNI bridge and subnet, so tests run in parallel and
// never touch anything of another run; the env's cleanup kills what is left
// and removes the namespaces, rules, leases and bridge it made.

// osTimeout bounds one wait for a `wasmrun os` step (the first start of a
// Go guest compiles it; the machines may be loaded).
const osTimeout = 90 * time.Second

// subnetSeq hands out the third octet of 10.238.N.0/24, distinct per env in
// this process and random across runs.
var subnetSeq atomic.Uint32

func init() {
	var b [1]byte
	rand.Read(b[:])
	subnetSeq.Store(uint32(b[0]))
}

// osEnv is one test's private world for `wasmrun os`.
type osEnv struct {
	t      *testing.T
	prefix string // namespace prefix, "wt" + 6 hex digits
	state  string // WASMRUN_STATE_DIR
	bridge string // CNI bridge device
	subnet string // 10.238.N.0/24
	dir    string // apps and files of the test
	apps   *atomic.Int32
	// tmp, when set, is the TMPDIR of the env's commands, where
	// `wasmrun os` makes each app's private /tmp (see privateTmp).
	tmp string
}

// with returns the env for use in subtest t (same prefix, dirs, bridge).
func (e *osEnv) with(t *testing.T) *osEnv {
	c := *e
	c.t = t
	return &c
}

// requireRoot skips t unless it runs as root (namespaces, CNI, iptables).
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: wasmrun os creates network namespaces, which needs root")
	}
}

// requireCNI skips t when the CNI plugins a forward needs are missing.
func requireCNI(t testing.TB) {
	t.Helper()
	for _, p := range []string{"bridge", "host-local", "portmap"} {
		if !fileExists("/usr/lib/cni/"+p) && !fileExists("/opt/cni/bin/"+p) {
			t.Skipf("skipping: CNI plugin %s is missing (apt-get install containernetworking-plugins)", p)
		}
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// newOSEnv makes a private environment and registers its cleanup (which
// runs after the cleanups of the apps started in it).
func newOSEnv(t *testing.T) *osEnv {
	t.Helper()
	requireRoot(t)
	var b [3]byte
	rand.Read(b[:])
	dir := t.TempDir()
	e := &osEnv{
		t:      t,
		prefix: "wt" + hex.EncodeToString(b[:]),
		state:  filepath.Join(dir, "state"),
		subnet: fmt.Sprintf("10.238.%d.0/24", subnetSeq.Add(1)%256),
		dir:    dir,
		apps:   new(atomic.Int32),
	}
	e.bridge = e.prefix + "br"
	t.Cleanup(e.cleanup)
	return e
}

// privateTmp gives the env's commands a TMPDIR of their own, so that
// leaks also finds the private /tmp directories of apps (wasmrun-tmp-*).
func (e *osEnv) privateTmp() {
	e.t.Helper()
	e.tmp = filepath.Join(e.dir, "tmp")
	if err := os.MkdirAll(e.tmp, 0o755); err != nil {
		e.t.Fatal(err)
	}
}

// manager is a cni.Manager configured like `wasmrun os` in this env.
func (e *osEnv) manager() (*cni.Manager, error) {
	return cni.New(e.network())
}

// network is the network configuration of `wasmrun os` in this env.
func (e *osEnv) network() oci.NetworkConfig {
	return oci.NetworkConfig{
		Prefix:   e.prefix,
		StateDir: filepath.Join(e.state, "netns"),
		CacheDir: filepath.Join(e.state, "cni-cache"),
		Bridge:   oci.BridgeConfig{Name: e.bridge, Subnet: e.subnet, IPAMDataDir: filepath.Join(e.state, "ipam")},
	}
}

// cleanup kills our processes, garbage-collects containers and namespaces
// (CNI DEL from their saved state), and removes the bridge.
func (e *osEnv) cleanup() {
	for _, pid := range e.processes() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt := &oci.Runtime{Root: filepath.Join(e.state, "containers"), Network: e.network()}
	if _, err := rt.GC(ctx); err != nil {
		e.t.Logf("cleanup: %v", err)
	}
	// The apps' /tmp of runs killed with their bundle left: as root, a
	// tmpfs each on the host.
	// And those in the env's own TMPDIR, whether or not a bundle names
	// them (one may be gone).
	tmps, _ := filepath.Glob(filepath.Join(e.state, "bundles", "*", "tmp"))
	for i, link := range tmps {
		tmps[i], _ = os.Readlink(link)
	}
	if e.tmp != "" {
		own, _ := filepath.Glob(filepath.Join(e.tmp, "wasmrun-tmp-*"))
		tmps = append(tmps, own...)
	}
	for _, tmp := range tmps {
		if strings.HasPrefix(filepath.Base(tmp), "wasmrun-tmp-") {
			syscall.Unmount(tmp, syscall.MNT_DETACH)
			os.RemoveAll(tmp)
		}
	}
	if _, err := os.Stat("/sys/class/net/" + e.bridge); err == nil {
		if out, err := exec.Command("ip", "link", "del", e.bridge).CombinedOutput(); err != nil {
			e.t.Logf("cleanup: ip link del %s: %v: %s", e.bridge, err, out)
		}
	}
	removeBridgeGuard(e.bridge)
	e.removeStray()
}

// delBridge deletes bridge and its host guard (cni's chain in the host's
// filter table), what a test left of them.
func delBridge(bridge string) {
	exec.Command("ip", "link", "del", bridge).Run()
	removeBridgeGuard(bridge)
}

// removeBridgeGuard removes the host guard of bridge: INPUT's jumps to
// its chain, then the chain.
func removeBridgeGuard(bridge string) {
	chain := "WASMRUN-IN-" + bridge
	for _, tool := range []string{"iptables", "ip6tables"} {
		for range 8 {
			if exec.Command(tool, "-w", "5", "-D", "INPUT", "-i", bridge, "-j", chain).Run() != nil {
				break
			}
		}
		exec.Command(tool, "-w", "5", "-F", chain).Run()
		exec.Command(tool, "-w", "5", "-X", chain).Run()
	}
}

// removeStray removes what a bug left that no state names any more, so
// that a failing test leaves the host as it was: the env's cgroups, and
// the iptables rules that mention its prefix with the chains only they
// jumped to.
func (e *osEnv) removeStray() {
	cgs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", "wasmrun", e.prefix+"-*"))
	v2, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "wasmrun", e.prefix+"-*"))
	for _, cg := range append(cgs, v2...) {
		os.Remove(cg)
	}
	needle := `"` + e.prefix + "-"
	for _, tool := range []string{"iptables", "ip6tables"} {
		saved, err := exec.Command(tool + "-save").Output()
		if err != nil || !bytes.Contains(saved, []byte(needle)) {
			continue
		}
		// Per table: the rules to delete, then the chains they alone
		// jumped to, flushed and deleted.
		var script strings.Builder
		var table string
		var dels []string
		declared, kept, targets := map[string]bool{}, map[string]bool{}, map[string]bool{}
		flush := func() {
			if len(dels) > 0 {
				fmt.Fprintf(&script, "*%s\n%s\n", table, strings.Join(dels, "\n"))
				for c := range targets {
					if declared[c] && !kept[c] {
						fmt.Fprintf(&script, "-F %s\n-X %s\n", c, c)
					}
				}
				script.WriteString("COMMIT\n")
			}
			dels = nil
			declared, kept, targets = map[string]bool{}, map[string]bool{}, map[string]bool{}
		}
		for _, line := range strings.Split(string(saved), "\n") {
			target := ""
			if f := strings.Fields(line); len(f) > 1 && f[len(f)-2] == "-j" {
				target = f[len(f)-1]
			}
			switch {
			case strings.HasPrefix(line, "*"):
				flush()
				table = line[1:]
			case strings.HasPrefix(line, ":"):
				declared[strings.Fields(line[1:])[0]] = true
			case strings.HasPrefix(line, "-A ") && strings.Contains(line, needle):
				dels = append(dels, "-D "+line[3:])
				targets[target] = true
			case strings.HasPrefix(line, "-A ") && target != "":
				kept[target] = true
			}
		}
		flush()
		if script.Len() == 0 {
			continue
		}
		cmd := exec.Command(tool+"-restore", "--noflush")
		cmd.Stdin = strings.NewReader(script.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			e.t.Logf("cleanup: %s-restore: %v: %s\n%s", tool, err, out, script.String())
		}
	}
}

// config is the [network] part every app of the env gets.
func (e *osEnv) config() string {
	return fmt.Sprintf("namespace_prefix = %q\nbridge_name = %q\nsubnet = %q\n", e.prefix, e.bridge, e.subnet)
}

// app makes a new app directory holding the given modules (name -> wasm
// path, copied) and a .wasmrun.toml with top-level keys top, then the
// env's [network] keys plus network.
func (e *osEnv) app(modules map[string]string, top, network string) string {
	e.t.Helper()
	dir := filepath.Join(e.dir, fmt.Sprintf("app%d", e.apps.Add(1)))
	if err := os.Mkdir(dir, 0o755); err != nil {
		e.t.Fatal(err)
	}
	for name, src := range modules {
		copyFile(e.t, src, filepath.Join(dir, name))
	}
	writeFile(e.t, filepath.Join(dir, ".wasmrun.toml"), top+"\n[network]\n"+e.config()+network)
	return dir
}

// app1 is app with one module, app.wasm.
func (e *osEnv) app1(wasm string) string {
	return e.app(map[string]string{"app.wasm": wasm}, "", "")
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	if err := os.Link(src, dst); err == nil {
		return
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// command is wasmrun ARGS with the env's state dir and the package's cache.
func (e *osEnv) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := command(ctx, args...)
	cmd.Env = append(cmd.Env, "WASMRUN_STATE_DIR="+e.state)
	if e.tmp != "" {
		cmd.Env = append(cmd.Env, "TMPDIR="+e.tmp)
	}
	return cmd
}

// run runs wasmrun ARGS to completion.
func (e *osEnv) run(args ...string) result {
	e.t.Helper()
	return runCommand(e.t, osTimeout, args, func(ctx context.Context) *exec.Cmd { return e.command(ctx, args...) })
}

// osRun is a `wasmrun os` running in the background.
type osRun struct {
	t      *testing.T
	cmd    *exec.Cmd
	args   []string
	stdout *watchBuffer
	stderr *watchBuffer
	done   chan struct{}
	code   int
}

// start starts `wasmrun os ARGS...`; the test's cleanup kills it (SIGKILL)
// if it still runs.
func (e *osEnv) start(args ...string) *osRun {
	e.t.Helper()
	return e.startCmd(nil, args...)
}

// startCmd is start with prep applied to the command before it starts
// (prep must leave its stdout and stderr alone).
func (e *osEnv) startCmd(prep func(*exec.Cmd), args ...string) *osRun {
	e.t.Helper()
	cmd := e.command(context.Background(), append([]string{"os"}, args...)...)
	if prep != nil {
		prep(cmd)
	}
	return startOSRun(e.t, cmd, args)
}

// startOSRun starts cmd, a `wasmrun os ARGS...` command, in the
// background with its output in watch buffers; the test's cleanup kills
// it (SIGKILL) if it still runs.
func startOSRun(t *testing.T, cmd *exec.Cmd, args []string) *osRun {
	t.Helper()
	r := &osRun{t: t, cmd: cmd, args: args, stdout: newWatchBuffer(), stderr: newWatchBuffer(), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = r.stdout, r.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start wasmrun os: %v", err)
	}
	go func() {
		cmd.Wait()
		r.code = cmd.ProcessState.ExitCode()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.code = 128 + int(ws.Signal())
		}
		close(r.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-r.done
	})
	return r
}

// waitFor waits until stdout or stderr contains s. It fails if wasmrun
// exits first or nothing comes within osTimeout.
func (r *osRun) waitFor(s string) {
	r.t.Helper()
	deadline := time.After(osTimeout)
	for {
		outC, outHas := r.stdout.watch(s)
		errC, errHas := r.stderr.watch(s)
		if outHas || errHas {
			return
		}
		select {
		case <-outC:
		case <-errC:
		case <-r.done:
			if strings.Contains(r.stdout.String(), s) || strings.Contains(r.stderr.String(), s) {
				return
			}
			r.t.Fatalf("wasmrun os %s exited with %d before printing %q\nstdout:\n%s\nstderr:\n%s",
				strings.Join(r.args, " "), r.code, s, r.stdout, r.stderr)
		case <-deadline:
			r.t.Fatalf("wasmrun os %s: no %q after %v\nstdout:\n%s\nstderr:\n%s",
				strings.Join(r.args, " "), s, osTimeout, r.stdout, r.stderr)
		}
	}
}

// wait waits for wasmrun to exit and returns its exit code.
func (r *osRun) wait() int {
	r.t.Helper()
	select {
	case <-r.done:
		return r.code
	case <-time.After(osTimeout):
		r.t.Fatalf("wasmrun os %s: no exit after %v\nstdout:\n%s\nstderr:\n%s",
			strings.Join(r.args, " "), osTimeout, r.stdout, r.stderr)
		return -1
	}
}

// signal sends sig to the wasmrun process.
func (r *osRun) signal(sig syscall.Signal) {
	r.t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatal(err)
	}
}

// terminateAll sends SIGTERM to every run, then fails t unless each exits
// with 143 (128+SIGTERM).
func terminateAll(t testing.TB, runs map[string]*osRun) {
	t.Helper()
	for _, r := range runs {
		r.signal(syscall.SIGTERM)
	}
	for name, r := range runs {
		if code := r.wait(); code != 143 {
			t.Errorf("%s: exit code %d after SIGTERM, want 143\nstderr:\n%s", name, code, r.stderr)
		}
	}
}

// watchBuffer is an output buffer that tells waiters when it grows.
type watchBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newWatchBuffer() *watchBuffer { return &watchBuffer{changed: make(chan struct{})} }

func (w *watchBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	close(w.changed)
	w.changed = make(chan struct{})
	return len(p), nil
}

// watch reports whether the buffer contains s, and a channel closed at
// the next write.
func (w *watchBuffer) watch(s string) (<-chan struct{}, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changed, strings.Contains(w.buf.String(), s)
}

func (w *watchBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// containerState is the part of oci's state.json the tests read.
type containerState struct {
	Pid int `json:"pid"`
	Net struct {
		Mode string `json:"mode"`
		Path string `json:"path"`
	} `json:"network"`
}

// containerState reads the state of app name.
func (e *osEnv) containerState(name string) containerState {
	e.t.Helper()
	return readContainerState(e.t, e.state, name)
}

// readContainerState reads the state of app name from the wasmrun state
// directory stateDir.
func readContainerState(t testing.TB, stateDir, name string) containerState {
	t.Helper()
	var st containerState
	b, err := os.ReadFile(filepath.Join(stateDir, "containers", name, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// netns is the namespace path of app name.
func (e *osEnv) netns(name string) string { return "/run/netns/" + e.prefix + "-" + name }

// processes returns the pids of the processes running with this env's
// state dir, whatever their binary: wasmrun CLIs, container processes, and
// what they started (CNI plugins, iptables-restore), which inherit it.
func (e *osEnv) processes() []int {
	want := []byte("WASMRUN_STATE_DIR=" + e.state + "\x00")
	return liveProcesses("", func(proc string) bool {
		env, err := os.ReadFile(proc + "/environ")
		return err == nil && bytes.Contains(env, want)
	})
}

// liveProcesses returns the pids of the processes running the binary exe
// ("": any) for which keep (nil: any) is true, given their /proc/PID
// directory; zombies (exited, not yet reaped) and this process are left
// out.
func liveProcesses(exe string, keep func(proc string) bool) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		proc := "/proc/" + ent.Name()
		if exe != "" {
			if target, err := os.Readlink(proc + "/exe"); err != nil || target != exe {
				continue
			}
		}
		if keep != nil && !keep(proc) {
			continue
		}
		if procState(pid) == "Z" {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// leaks lists what of this env is left on the system: namespaces of the
// prefix, state entries, the bridge and veths on it, iptables/nft rules
// that mention the prefix or one of ports, IPAM leases and directories,
// cgroups, mounts, the apps' private /tmp directories (with privateTmp),
// processes.
func (e *osEnv) leaks(ports ...int) []string {
	e.t.Helper()
	var out []string
	if ents, err := os.ReadDir("/run/netns"); err == nil {
		for _, ent := range ents {
			if strings.HasPrefix(ent.Name(), e.prefix+"-") {
				out = append(out, "namespace /run/netns/"+ent.Name())
			}
		}
	}
	for _, sub := range []string{"containers", "netns", "bundles"} {
		ents, _ := os.ReadDir(filepath.Join(e.state, sub))
		for _, ent := range ents {
			if ent.Name() != ".lock" { // cni's
				out = append(out, "state "+filepath.Join(sub, ent.Name()))
			}
		}
	}
	if ents, err := os.ReadDir("/sys/class/net/" + e.bridge + "/brif"); err == nil {
		for _, ent := range ents {
			out = append(out, "veth "+ent.Name()+" on bridge "+e.bridge)
		}
		// The bridge goes with the last namespace on it.
		out = append(out, "bridge "+e.bridge)
	}
	leases, _ := filepath.Glob(filepath.Join(e.state, "ipam", "*", "*"))
	for _, l := range leases {
		if b := filepath.Base(l); b != "lock" && !strings.HasPrefix(b, "last_reserved_ip") {
			out = append(out, "IPAM lease "+l)
		}
	}
	nets, _ := filepath.Glob(filepath.Join(e.state, "ipam", "*"))
	for _, d := range nets {
		out = append(out, "IPAM directory "+d)
	}
	needles := []string{`"` + e.prefix + "-", " " + e.bridge + " "} // the bridge's host guard
	for _, p := range ports {
		needles = append(needles, "dport "+strconv.Itoa(p)+" ", "dports "+strconv.Itoa(p)+" ")
	}
	for _, tool := range [][]string{{"iptables-save"}, {"ip6tables-save"}, {"nft", "list", "ruleset"}} {
		b, err := exec.Command(tool[0], tool[1:]...).Output()
		if err != nil {
			continue // the tool is not installed
		}
		for _, line := range strings.Split(string(b), "\n") {
			for _, n := range needles {
				if strings.Contains(line+" ", n) {
					out = append(out, tool[0]+": "+strings.TrimSpace(line))
					break
				}
			}
		}
	}
	// v1 controllers and a hybrid host's unified tree, or cgroup2 alone.
	cgs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", "wasmrun", e.prefix+"-*"))
	v2, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "wasmrun", e.prefix+"-*"))
	for _, cg := range append(cgs, v2...) {
		out = append(out, "cgroup "+cg)
	}
	// Namespace bind mounts (/run/netns/<prefix>-ID) and anything mounted
	// under the test's directories.
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "/"+e.prefix+"-") || strings.Contains(line, e.dir+"/") {
				out = append(out, "mount "+line)
			}
		}
	}
	if e.tmp != "" {
		tmps, _ := filepath.Glob(filepath.Join(e.tmp, "wasmrun-tmp-*"))
		for _, d := range tmps {
			out = append(out, "app /tmp "+d)
		}
	}
	for _, pid := range e.processes() {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		out = append(out, fmt.Sprintf("process %d: %s", pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
	}
	return out
}

// noLeaks fails t if anything of the env is left.
func (e *osEnv) noLeaks(ports ...int) {
	e.t.Helper()
	if l := e.leaks(ports...); len(l) > 0 {
		e.t.Errorf("left behind:\n  %s", strings.Join(l, "\n  "))
	}
}

// freePort returns a port that is free on the host for proto ("tcp" or
// "udp") right now.
func freePort(t testing.TB, proto string) int {
	t.Helper()
	c, port := bindLoopback(t, proto)
	c.Close()
	return port
}

// heldPort returns a port of 127.0.0.1 for proto ("tcp" or "udp") that
// this process holds (bound) until t ends.
func heldPort(t testing.TB, proto string) int {
	t.Helper()
	c, port := bindLoopback(t, proto)
	t.Cleanup(func() { c.Close() })
	return port
}

// bindLoopback binds a free port of 127.0.0.1 for proto ("tcp": a
// listener, or "udp") and returns the socket and the port.
func bindLoopback(t testing.TB, proto string) (io.Closer, int) {
	t.Helper()
	if proto == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return c, c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l, l.Addr().(*net.TCPAddr).Port
}

// hostListener is a TCP server on the host's 127.0.0.1 that notes each
// connection it accepts, to tell whether a guest reached the host.
type hostListener struct {
	addr     string
	accepted chan struct{}
}

// newHostListener starts a hostListener that runs until t ends.
func newHostListener(t testing.TB) *hostListener {
	t.Helper()
	h := &hostListener{accepted: make(chan struct{}, 16)}
	h.addr = tcpServer(t, func(net.Conn) { h.accepted <- struct{}{} }).Addr().String()
	return h
}

// newHostListenerAll is newHostListener on every address of the host
// (addr names its port on 127.0.0.1).
func newHostListenerAll(t testing.TB) *hostListener {
	t.Helper()
	h := &hostListener{accepted: make(chan struct{}, 16)}
	l := tcpServerOn(t, ":0", func(net.Conn) { h.accepted <- struct{}{} })
	h.addr = fmt.Sprintf("127.0.0.1:%d", l.Addr().(*net.TCPAddr).Port)
	return h
}

// notReached fails t if a connection was accepted (from an isolated
// guest, whose 127.0.0.1 is its own).
func (h *hostListener) notReached(t testing.TB) {
	t.Helper()
	select {
	case <-h.accepted:
		t.Errorf("the host server on %s accepted a connection from the isolated guest", h.addr)
	default:
	}
}

// reached fails t unless a connection arrives within 10s (from a guest on
// the host network).
func (h *hostListener) reached(t testing.TB) {
	t.Helper()
	select {
	case <-h.accepted:
	case <-time.After(10 * time.Second):
		t.Errorf("the host server on %s saw no connection from the guest on the host network", h.addr)
	}
}

// udpPing sends "ping" to 127.0.0.1:port over UDP and returns the answer
// ("" if none came). UDP may drop a datagram: it tries up to 5 times, each
// waiting 3s for the answer.
func udpPing(t testing.TB, port int) string {
	t.Helper()
	c, err := net.Dial("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got string
	buf := make([]byte, 512)
	for try := 0; try < 5 && got == ""; try++ {
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if n, err := c.Read(buf); err == nil {
			got = string(buf[:n])
		} else {
			t.Logf("try %d: %v", try, err)
		}
	}
	return got
}

// greeting connects to addr with dial and returns the netapp guest's first
// line ("hello ID"), after checking one echoed line.
func greeting(t testing.TB, dial func() (net.Conn, error)) string {
	t.Helper()
	c, err := dial()
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		t.Fatal(err)
	}
	b, err := readLines(c, 2)
	if err != nil {
		t.Fatalf("read: %v (got %q)", err, b)
	}
	ls := lines(b)
	if ls[1] != "ping" {
		t.Errorf("echo: got %q, want ping", ls[1])
	}
	return ls[0]
}

// readLines reads until n newlines.
func readLines(r io.Reader, n int) (string, error) {
	var buf []byte
	b := make([]byte, 256)
	for bytes.Count(buf, []byte("\n")) < n {
		k, err := r.Read(b)
		buf = append(buf, b[:k]...)
		if err != nil {
			return string(buf), err
		}
	}
	return string(buf), nil
}
