//go:build linux || darwin || windows

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/wasmrun/wasmrun/cni/procnet"
	"github.com/wasmrun/wasmrun/internal/atomicfile"
	"github.com/wasmrun/wasmrun/internal/runner"
	"github.com/wasmrun/wasmrun/oci"
	"github.com/wasmrun/wasmrun/wasi"
)

// `wasmrun os` without a container process: where there are no network
// namespaces (macOS), an app runs in the wasmrun process itself, as
// `wasmrun run` does, under simulated isolation: its ports are a table of
// its own (wasi.VirtualPorts: a port P it binds is a free port of the
// host's loopback), each --forward H:G listens on the host's H and dials
// the app's G through that table (oci.StartForwarder, TCP and UDP), and its traffic to the host's own
// addresses is refused unless an allow entry names them. Its root is its
// app directory, read-only, with a private /tmp and the --dir mounts.
//
// `ps` and `stop` find it through a state file, <root>/<name>.json, that
// holds the process id, the module, the forwards and the port table (kept
// current as the app binds and closes); `stop` signals the process, which
// ends as a native program does, and the next `ps` or `os` removes a file
// whose process is gone. A signal ends the process at once, as it would a
// native program: the kernel closes its sockets.
//
// It runs as the user who started it (no user switch, no capabilities to
// drop, no cgroup). Not here, each refused: --listen, --instances, --cpus.

// inProcessState is the state file of an in-process app.
type inProcessState struct {
	Name     string   `json:"name"`
	Pid      int      `json:"pid"`
	Module   string   `json:"module"`
	Forwards []string `json:"forwards,omitempty"`
	// Ports are the app's ports and the host sockets holding them
	// ("8080/tcp=127.0.0.1:41234").
	Ports []string `json:"ports,omitempty"`
}

// runInProcess runs app a in this process (see above) with its state in
// root, until the guest exits. interruptible makes ctx's end stop the
// guest (tests; see runner.Options.Interruptible).
func runInProcess(ctx context.Context, a *app, o *osOpts, root string, interruptible bool, stdin, stdout, stderr *os.File) (int, error) {
	logf := func(format string, args ...any) {
		if o.verbose {
			fmt.Fprintf(stderr, "wasmrun: "+format+"\n", args...)
		}
	}
	switch {
	case len(a.listens) > 0:
		return 0, errors.New("--listen needs a network namespace (not on this system)")
	case a.instances > 1:
		return 0, errors.New("--instances needs a network namespace (not on this system)")
	case a.userKey && int(a.user.UID) != os.Geteuid():
		return 0, fmt.Errorf("user = %d in %s needs a container process (Linux): here the app runs in wasmrun's process, as you", a.user.UID, ConfigName)
	}
	st := &inProcessState{Name: a.name, Pid: os.Getpid(), Module: filepath.Join(a.root, a.module)}
	for _, f := range a.forwards {
		st.Forwards = append(st.Forwards, f.String())
	}
	file := filepath.Join(root, a.name+".json")
	if err := claimState(root, file, st); err != nil {
		return 0, err
	}
	defer os.Remove(file)

	tmp := appTmpDir(root, a.name)
	os.RemoveAll(tmp) // of an earlier app of that name, killed
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return 0, fmt.Errorf("make the app's /tmp: %w", err)
	}
	defer os.RemoveAll(tmp)
	preopens := []wasi.Preopen{{HostPath: a.root, GuestPath: "/", ReadOnly: true}}
	for _, m := range a.mounts {
		preopens = append(preopens, wasi.Preopen{HostPath: m.Source, GuestPath: m.Destination, ReadOnly: slices.Contains(m.Options, "ro")})
	}
	if !slices.ContainsFunc(a.mounts, func(m specs.Mount) bool { return path.Clean(m.Destination) == "/tmp" }) {
		preopens = append(preopens, wasi.Preopen{HostPath: tmp, GuestPath: "/tmp"})
	}

	var vp *wasi.VirtualPorts
	if a.simulated {
		// The host's addresses and bridges, loopback (the app's own
		// port space, which VirtualPorts serves first), link-local (a
		// cloud's metadata service), multicast, as for any app.
		blocked, err := procnet.BlockedFromApps("")
		if err != nil {
			return 0, err
		}
		if !a.outbound {
			blocked = append(blocked, netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0"))
		}
		var mu sync.Mutex
		said := map[string]bool{}
		vp = wasi.NewVirtualPorts(blocked, func(tab []wasi.VirtualPort) {
			mu.Lock()
			defer mu.Unlock()
			st.Ports = st.Ports[:0]
			for _, p := range tab {
				s := fmt.Sprintf("%d/%s=%s", p.Port, p.Proto, p.Host)
				st.Ports = append(st.Ports, s)
				if !said[s] {
					said[s] = true
					logf("guest port %d/%s is the host's %s (simulated isolation)", p.Port, p.Proto, p.Host)
				}
			}
			writeState(file, st)
		})
		vp.Offline = !a.outbound
		logf("network: simulated isolation: no namespace; the app's ports are free ports on the host's loopback, its own to reach")
	}
	if len(a.forwards) > 0 {
		dial := vp.Dial
		if vp == nil { // isolation = false: the app's ports are the host's
			dial = func(network, addr string) (net.Conn, error) { return net.DialTimeout(network, addr, 10*time.Second) }
		}
		fwd, err := oci.StartForwarder(a.forwards, dial, logf)
		if err != nil {
			return 0, explainCreate(a, err)
		}
		defer fwd.Stop()
	}

	opts := runner.Options{
		Path:          filepath.Join(a.root, a.module),
		Name:          "/" + filepath.ToSlash(a.module),
		Args:          a.args,
		Env:           a.env,
		Preopens:      preopens,
		ResolvConf:    a.resolvConf,
		Hosts:         a.hosts,
		Stdin:         stdin,
		Stdout:        stdout,
		Stderr:        stderr,
		Diag:          stderr,
		Progress:      true,
		Terminal:      isTerminal(stderr),
		Egress:        a.egress,
		VirtualPorts:  vp,
		Interruptible: interruptible,
	}
	if o.verbose {
		opts.SocketEvents = printSocketEvents(stderr)
	}
	if a.limits.memory > 0 {
		opts.MemoryLimitPages = uint32(min(a.limits.memory/65536, 65536))
	}
	leave, err := a.limits.enter()
	if err != nil {
		return 0, err
	}
	defer leave()
	if n := a.limits.MaxFDs; n > 0 {
		if err := setMaxFDs(n); err != nil {
			return 0, fmt.Errorf("--max-fds %d: %w", n, err)
		}
	}
	if !o.noCache {
		opts.CacheDir = o.cacheDir
		if opts.CacheDir == "" {
			opts.CacheDir = runner.DefaultCacheDir()
		}
	}
	if err := runner.CheckCacheReach(opts.Preopens, opts.CacheDir); err != nil {
		return 0, err
	}
	opts.CacheReachOpened = true
	p, err := runner.Prepare(ctx, opts)
	if err != nil {
		return 0, err
	}
	logf("app %s running in this process, pid %d, as uid %d (no user switch here)", a.name, st.Pid, os.Geteuid())
	code, err := p.Run(ctx)
	var trap *runner.TrapError
	if errors.As(err, &trap) {
		fmt.Fprintf(stderr, "wasmrun: %v\n", err)
		return code, nil
	}
	if err != nil {
		return 0, err
	}
	logf("app %s exited with status %d", a.name, code)
	return code, nil
}

// claimState creates the state file of app st.Name in root, or fails when
// an app of that name runs; a file whose process is gone is replaced.
func claimState(root, file string, st *inProcessState) error {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fmt.Errorf("make the state directory: %w", err)
	}
	for range 2 {
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			f.Close()
			return writeState(file, st)
		}
		if !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("state of app %s: %w", st.Name, err)
		}
		if old, err := readState(file); err == nil && processAlive(old.Pid) {
			return fmt.Errorf("an app named %s is already running (see wasmrun ps)", st.Name)
		}
		removeApp(root, st.Name) // its process is gone
	}
	return fmt.Errorf("state of app %s: %s keeps coming back", st.Name, file)
}

func writeState(file string, st *inProcessState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return atomicfile.Write(file, b, 0o600, ".state-*")
}

func readState(file string) (*inProcessState, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var st inProcessState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &st, nil
}

// inProcessApps returns the apps whose state is in root, removing the
// files of those whose process is gone.
func inProcessApps(root string) []*inProcessState {
	files, _ := filepath.Glob(filepath.Join(root, "*.json"))
	var apps []*inProcessState
	for _, f := range files {
		st, err := readState(f)
		if err != nil || !processAlive(st.Pid) {
			removeApp(root, strings.TrimSuffix(filepath.Base(f), ".json"))
			continue
		}
		apps = append(apps, st)
	}
	return apps
}

// psInProcess prints the apps of root, as ps does.
func psInProcess(root string, w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPID\tSTATUS\tINSTANCES\tNAMESPACE\tFORWARDS\tMODULE")
	for _, st := range inProcessApps(root) {
		ns, fw := "simulated", "-"
		if len(st.Ports) > 0 {
			ns += ":" + strings.Join(st.Ports, ",")
		}
		if len(st.Forwards) > 0 {
			fw = strings.Join(st.Forwards, ",")
		}
		fmt.Fprintf(tw, "%s\t%d\trunning\t1\t%s\t%s\t%s\n", st.Name, st.Pid, ns, fw, st.Module)
	}
	tw.Flush()
}

// stopInProcess stops app name of root: SIGTERM, then SIGKILL after
// grace. It reports false when no such app runs.
func stopInProcess(root, name string, grace time.Duration) (bool, error) {
	file := filepath.Join(root, name+".json")
	st, err := readState(file)
	if err != nil || !processAlive(st.Pid) {
		removeApp(root, name)
		return false, nil
	}
	if err := terminate(st.Pid); err != nil {
		return true, err
	}
	for end := time.Now().Add(grace); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if !processAlive(st.Pid) {
			removeApp(root, name)
			return true, nil
		}
	}
	kill(st.Pid)
	for end := time.Now().Add(time.Second); processAlive(st.Pid) && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	removeApp(root, name)
	return true, nil
}

// removeApp removes what app name of root left behind: its state file and
// its /tmp. A signal ends an in-process app at once, as a native program,
// so this is done by whoever next finds its process gone (ps, stop, an
// app of the same name).
func removeApp(root, name string) {
	os.Remove(filepath.Join(root, name+".json"))
	os.RemoveAll(appTmpDir(root, name))
}

// appTmpDir is the host directory of app name's /tmp.
func appTmpDir(root, name string) string { return filepath.Join(root, "tmp-"+name) }
