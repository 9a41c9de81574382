// Package testdaemon starts private containerd daemons for tests: root,
// state, sockets and config in a fresh directory, a PATH that puts the
// binaries under test first. At the end of the test every container is
// removed through containerd's delete path, the daemon stopped, and what
// the runtime under test still left (shims, cgroups) reported and removed
// (cleanup.go). It is a test helper: imported from _test.go files, and
// from bench/shim, which passes its own TB.
//
//	d := testdaemon.Start(t, testdaemon.Containerd2(t), testdaemon.Options{PathDirs: []string{shimDir}})
//	out := d.MustCtr(t, "run", "--rm", ...)
//
// Binaries: Containerd2 finds containerd 2.4.2 where
// scripts/install-containerd.sh puts it ($(go env GOPATH)/wasmrun-tools/
// containerd-2.4.2, or $WASMRUN_CONTAINERD2_DIR); Containerd16 is Debian's
// /usr/bin/containerd 1.6. A missing daemon skips the test (fails with
// WASMRUN_REQUIRE_TOOLCHAINS set).
//
// CRI (cri.go): Options.CRI enables and configures the CRI plugin (sandbox
// image, private CNI conf dir, netns under the state dir); CrictlPath and
// NerdctlPath find crictl v1.37.0 and nerdctl v2.2.1 (same installer);
// WriteImage/ImportImage/ImportSandboxImage make local images.
package testdaemon

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// TB is what the helpers need of a test. *testing.T and *testing.B satisfy
// it; a plain program (bench/shim) implements it to start a daemon.
// Fatal, Fatalf and Skip must not return: a test stops its goroutine, a
// program panics or exits.
type TB interface {
	Helper()
	Logf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Skip(args ...any)
	Failed() bool
	Cleanup(f func())
	TempDir() string
}

// Namespace is the containerd namespace tests use, private to this
// process: ctr's specs put a container's cgroup at /<namespace>/<id>, so
// the parent cgroup /Namespace is this process's own, which the last of
// its daemons removes (see cleanup.go). Two test runs on one machine
// never share it.
var Namespace = fmt.Sprintf("wasmrun-test-%d", os.Getpid())

// Binaries is one containerd release: the daemon, its ctr, and the
// config version it reads.
type Binaries struct {
	Name          string // "containerd-2.4.2", "containerd-1.6"
	Containerd    string
	Ctr           string
	ConfigVersion int // 3 for 2.x, 2 for 1.x
	// Dir holds the release's other binaries (containerd-shim-runc-v2),
	// put on the daemon's PATH after Options.PathDirs.
	Dir string
}

// RequireEnv turns a missing daemon into a failure instead of a skip.
const RequireEnv = "WASMRUN_REQUIRE_TOOLCHAINS"

func missing(t TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + " (run scripts/install-containerd.sh)"
	if os.Getenv(RequireEnv) != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Containerd2Dir is where scripts/install-containerd.sh installs
// containerd 2.4.2.
func Containerd2Dir() string {
	if d := os.Getenv("WASMRUN_CONTAINERD2_DIR"); d != "" {
		return d
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		out, err := exec.Command("go", "env", "GOPATH").Output()
		if err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	return filepath.Join(gopath, "wasmrun-tools", "containerd-2.4.2")
}

// FindContainerd2 returns containerd 2.4.2, or an error saying it is
// not installed.
func FindContainerd2() (Binaries, error) {
	dir := Containerd2Dir()
	b := Binaries{Name: "containerd-2.4.2", Containerd: filepath.Join(dir, "containerd"), Ctr: filepath.Join(dir, "ctr"), ConfigVersion: 3, Dir: dir}
	for _, p := range []string{b.Containerd, b.Ctr} {
		if _, err := os.Stat(p); err != nil {
			return b, fmt.Errorf("containerd 2.4.2 is not installed: %w", err)
		}
	}
	return b, nil
}

// Containerd2 returns containerd 2.4.2 or skips the test.
func Containerd2(t TB) Binaries {
	t.Helper()
	b, err := FindContainerd2()
	if err != nil {
		missing(t, "%v", err)
	}
	return b
}

// Containerd16 returns Debian's containerd 1.6 or skips the test.
func Containerd16(t TB) Binaries {
	t.Helper()
	b := Binaries{Name: "containerd-1.6", Containerd: "/usr/bin/containerd", Ctr: "/usr/bin/ctr", ConfigVersion: 2, Dir: "/usr/bin"}
	out, err := exec.Command(b.Containerd, "--version").Output()
	if err != nil {
		missing(t, "Debian's containerd is not installed: %v", err)
	}
	if !strings.Contains(string(out), " 1.6.") {
		missing(t, "/usr/bin/containerd is not 1.6: %s", strings.TrimSpace(string(out)))
	}
	return b
}

// Options shape a daemon.
type Options struct {
	// PathDirs come first on the daemon's PATH (the shim under test).
	PathDirs []string
	// Env is added to the daemon's environment (shims inherit it).
	Env []string
	// ExtraConfig is appended to the generated config.toml.
	ExtraConfig string
	// EnableCRI keeps the CRI plugin (disabled by default: it is slow to
	// start and not needed by ctr tests).
	EnableCRI bool
	// CRI configures the CRI plugin (and enables it): see CRI.
	CRI *CRI
	// EditConfig, if set, may change the written config.toml (at path)
	// before the daemon starts (e.g. an installer under test).
	EditConfig func(path string) error
}

// Daemon is a running private containerd.
type Daemon struct {
	Bin     Binaries
	Dir     string // everything lives under it
	Address string // gRPC socket
	Config  string // config.toml
	Log     string // daemon log file
	env     []string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// Start starts a daemon and waits until it serves. Everything is removed
// at the end of the test.
func Start(t TB, bin Binaries, opts Options) *Daemon {
	t.Helper()
	// A short directory: shim sockets live under it and unix socket paths
	// are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "ctd")
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{Bin: bin, Dir: dir, Address: filepath.Join(dir, "c.sock"), Config: filepath.Join(dir, "config.toml"), Log: filepath.Join(dir, "containerd.log")}
	if err := os.WriteFile(d.Config, []byte(d.config(opts)), 0o644); err != nil {
		t.Fatal(err)
	}
	if opts.EditConfig != nil {
		if err := opts.EditConfig(d.Config); err != nil {
			os.RemoveAll(dir)
			t.Fatal(err)
		}
	}
	path := strings.Join(append(append([]string{}, opts.PathDirs...), bin.Dir, os.Getenv("PATH")), ":")
	d.env = append(append(os.Environ(), "PATH="+path), opts.Env...)
	live.Add(1)
	t.Cleanup(func() { d.cleanup(t) })
	d.start(t)
	return d
}

func (d *Daemon) config(opts Options) string {
	var b strings.Builder
	disabled := []string{`"io.containerd.nri.v1.nri"`}
	if !opts.EnableCRI && opts.CRI == nil {
		disabled = append(disabled, `"io.containerd.grpc.v1.cri"`)
	}
	q := func(s string) string { return strconv.Quote(s) }
	fmt.Fprintf(&b, "version = %d\nroot = %s\nstate = %s\ndisabled_plugins = [%s]\n\n", d.Bin.ConfigVersion,
		q(filepath.Join(d.Dir, "root")), q(filepath.Join(d.Dir, "state")), strings.Join(disabled, ", "))
	fmt.Fprintf(&b, "[grpc]\n  address = %s\n\n[ttrpc]\n  address = %s\n\n", q(d.Address), q(d.Address+".ttrpc"))
	if d.Bin.ConfigVersion >= 3 {
		fmt.Fprintf(&b, "[plugins.'io.containerd.internal.v1.opt']\n  path = %s\n\n", q(filepath.Join(d.Dir, "opt")))
		fmt.Fprintf(&b, "[plugins.'io.containerd.shim.v1.manager']\n  socket_dir = %s\n\n", q(filepath.Join(d.Dir, "s")))
	} else {
		fmt.Fprintf(&b, "[plugins.\"io.containerd.internal.v1.opt\"]\n  path = %s\n\n", q(filepath.Join(d.Dir, "opt")))
	}
	if opts.CRI != nil {
		b.WriteString(opts.CRI.config(d.Bin.ConfigVersion))
	}
	b.WriteString(opts.ExtraConfig)
	return b.String()
}

func (d *Daemon) start(t TB) {
	t.Helper()
	logf, err := os.OpenFile(d.Log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(d.Bin.Containerd, "--config", d.Config, "--log-level", "debug")
	cmd.Env = d.env
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a signal to the test's group leaves it be.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", d.Bin.Containerd, err)
	}
	d.cmd, d.exited = cmd, make(chan struct{})
	go func() {
		cmd.Wait()
		close(d.exited)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-d.exited:
			t.Fatalf("%s exited during startup:\n%s", d.Bin.Name, d.tailLog())
		default:
		}
		if c, err := net.Dial("unix", d.Address); err == nil {
			c.Close()
			if _, _, err := d.Ctr(context.Background(), "version"); err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not serve %s within 30s:\n%s", d.Bin.Name, d.Address, d.tailLog())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops the daemon (SIGTERM, then SIGKILL after 10 s). Shims and
// their tasks keep running, as with a real restart.
func (d *Daemon) Stop(t TB) {
	t.Helper()
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
	}
	d.cmd = nil
}

// Relaunch starts a stopped daemon again with the same config.
func (d *Daemon) Relaunch(t TB) {
	t.Helper()
	if d.cmd == nil {
		d.start(t)
	}
}

// Restart stops and starts the daemon with the same config.
func (d *Daemon) Restart(t TB) {
	t.Helper()
	d.Stop(t)
	d.start(t)
}

// Ctr runs ctr against the daemon in Namespace and returns stdout and
// stderr (ctr prints warnings on stderr: compare stdout).
func (d *Daemon) Ctr(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	cmd := d.CtrCommand(ctx, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if err != nil {
		err = fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(e.String()))
	}
	return o.String(), e.String(), err
}

// CtrCommand is an unstarted ctr command against the daemon.
func (d *Daemon) CtrCommand(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, d.Bin.Ctr, append([]string{"--address", d.Address, "--namespace", Namespace}, args...)...)
	cmd.Env = d.env
	return cmd
}

// MustCtr runs ctr and fails the test on error; it returns stdout.
func (d *Daemon) MustCtr(t TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _, err := d.Ctr(ctx, args...)
	if err != nil {
		t.Fatalf("%v\ndaemon log:\n%s", err, d.tailLog())
	}
	return out
}

// TailLog returns the end of the daemon's log.
func (d *Daemon) TailLog() string { return d.tailLog() }

func (d *Daemon) tailLog() string {
	b, _ := os.ReadFile(d.Log)
	const max = 6000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

// Processes returns the pids of live processes started with this
// daemon's address on their command line (its shims).
func (d *Daemon) Processes() []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if bytes.Contains(b, []byte(d.Address+"\x00")) && !isZombie(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || len(s) < i+3 || s[i+2] == 'Z'
}
