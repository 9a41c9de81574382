// Package native runs the native (ELF) containers of a pod next to its
// wasm ones: a log shipper, a mesh proxy, an init container. runc does the
// work, from the task's own bundle and spec (namespaces, the pod's network
// namespace by path, cgroups, mounts, hooks), with the task's stdio; the
// shim waits for the container's process itself, as its subreaper.
//
// runc's state lives in the bundle (<bundle>/runc), so that the shim's
// delete action, a fresh process, finds the container there after the
// shim server died.
package native

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/containerd/console"
	"github.com/containerd/errdefs"
	runc "github.com/containerd/go-runc"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/wasmrun/wasmrun/oci"
)

// What a native container keeps in its bundle.
const (
	stateDir = "runc"          // runc's --root
	logFile  = "runc-log.json" // runc's --log, read back for its errors
	pidFile  = "runc-init.pid" // the container process's pid (runc create --pid-file)
)

// Lookup returns the runc binary to use: configured (a path, or a name
// looked up on PATH), or "runc" on PATH and in the sbin directories a
// shim started by containerd may lack in its PATH.
func Lookup(configured string) (string, error) {
	name := configured
	if name == "" {
		name = "runc"
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if !strings.Contains(name, "/") {
		for _, dir := range []string{"/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/local/bin", "/usr/bin"} {
			p := filepath.Join(dir, name)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	how := "not found on PATH or in /usr/sbin"
	if configured != "" {
		how = fmt.Sprintf("runc_path %q not found", configured)
	}
	return "", fmt.Errorf("native (non-wasm) containers are run by runc: %s (install runc, e.g. apt-get install runc, or set runc_path in the shim config): %w",
		how, errdefs.ErrFailedPrecondition)
}

// Has reports whether bundle holds a native container (runc's state).
func Has(bundle string) bool {
	_, err := os.Stat(filepath.Join(bundle, stateDir))
	return err == nil
}

// IsNative reports whether the spec's process is a native program rather
// than a wasm module: the file process.args[0] names (relative to
// process.cwd, or found on the spec's PATH when it has no slash) is a
// regular file in root that starts as an ELF binary or a script (#!).
// Anything else is the wasm side's to run or to refuse (missing, not a
// WebAssembly binary).
func IsNative(root string, spec *specs.Spec) bool {
	m, err := oci.ModulePath(root, spec)
	if err != nil {
		return false
	}
	path := m.HostPath
	if _, err := os.Stat(path); err != nil {
		if strings.Contains(m.GuestPath, "/") {
			return false
		}
		if path = lookPathIn(root, spec, m.GuestPath); path == "" {
			return false
		}
	}
	// Non-blocking, not following a last symlink (the path has none:
	// oci resolved them inside root), and a regular file only: an image
	// whose entrypoint is a FIFO must not hang the shim in open or read.
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return false
	}
	magic := make([]byte, 4)
	if _, err := io.ReadFull(f, magic); err != nil {
		return false
	}
	return string(magic) == "\x7fELF" || string(magic[:2]) == "#!"
}

// lookPathIn finds name on the PATH of the spec's environment (a
// default PATH without one) inside root, as runc's exec would; "" when
// it is not there. Symlinks are followed inside root (oci.ModulePath).
func lookPathIn(root string, spec *specs.Spec, name string) string {
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range spec.Process.Env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if !filepath.IsAbs(dir) {
			continue
		}
		s := *spec
		p := *spec.Process
		p.Args = []string{filepath.Join(dir, name)}
		s.Process = &p
		m, err := oci.ModulePath(root, &s)
		if err != nil {
			continue
		}
		if st, err := os.Stat(m.HostPath); err == nil && st.Mode().IsRegular() {
			return m.HostPath
		}
	}
	return ""
}

// Runtime is the native container of one task: runc with its state in
// the task's bundle.
type Runtime struct {
	runc   *runc.Runc
	bundle string

	mu       sync.Mutex
	sessions []int // of its processes, whose orphans the shim reaps
}

// New is the runtime of the native container in bundle, run by the runc
// binary at command.
func New(bundle, command string) *Runtime {
	return &Runtime{
		bundle: bundle,
		runc: &runc.Runc{
			Command:   command,
			Root:      filepath.Join(bundle, stateDir),
			Log:       filepath.Join(bundle, logFile),
			LogFormat: runc.JSON,
		},
	}
}

// CreateOpts are a native container's stdio: nil is /dev/null; with
// Terminal, none: runc opens a pty in the container (its spec says
// process.terminal) and sends its master, which the caller gets.
type CreateOpts struct {
	Stdin, Stdout, Stderr *os.File
	Terminal              bool
}

// Container is a created native container's process.
type Container struct {
	Pid int
	// Console is the master of its terminal (CreateOpts.Terminal); the
	// caller owns it.
	Console console.Console
	done    chan struct{}
	code    int
}

// subreaper makes this process the subreaper of what runc starts: runc
// create exits once the container's process waits for its start, and
// that process becomes this one's child, to be waited for.
var subreaper = sync.OnceValue(func() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become the subreaper of native containers: %w", err)
	}
	return nil
})

// Create runs runc create: the container's process exists in its
// namespaces and cgroup, the create hooks have run, and it waits for
// Start. What runc made is removed if it fails.
func (r *Runtime) Create(ctx context.Context, id string, opts CreateOpts) (*Container, error) {
	if err := subreaper(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(r.runc.Root, 0o711); err != nil {
		return nil, fmt.Errorf("create runc state directory: %w", err)
	}
	// A cgroup path in the systemd driver's slice:prefix:name form (a
	// kubelet with the systemd cgroup driver) is runc's to honour, through
	// systemd; runc keeps the choice in its state for the later commands.
	if spec, err := oci.LoadSpec(r.bundle); err == nil && spec.Linux != nil && strings.Contains(spec.Linux.CgroupsPath, ":") {
		r.runc.SystemdCgroup = true
	}
	// A stream not given is /dev/null, opened here: with neither stdout
	// nor stderr set, go-runc would collect runc's output through a pipe
	// that the container's process inherits, and wait for it to close.
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer null.Close()
	sock, err := consoleSocket(opts.Terminal)
	if err != nil {
		return nil, err
	}
	defer closeSocket(sock)
	pf := filepath.Join(r.bundle, pidFile)
	copts := &runc.CreateOpts{
		IO:      &fileIO{orNull(opts.Stdin, null), orNull(opts.Stdout, null), orNull(opts.Stderr, null)},
		PidFile: pf,
	}
	if sock != nil { // not a nil *Socket in the interface
		copts.ConsoleSocket = sock
	}
	err = r.runc.Create(ctx, id, r.bundle, copts)
	if err != nil {
		err = r.explain("create native container "+id, err)
		r.Delete(context.WithoutCancel(ctx), id, true)
		return nil, err
	}
	c := &Container{done: make(chan struct{})}
	if c.Pid, err = runc.ReadPidFile(pf); err == nil && sock != nil {
		c.Console, err = sock.ReceiveMaster()
	}
	if err != nil {
		r.Delete(context.WithoutCancel(ctx), id, true)
		return nil, fmt.Errorf("create native container %s: %w", id, err)
	}
	r.watch(c.Pid)
	go c.wait()
	return c, nil
}

// watch reaps the orphans of session sid, one of r's processes', until
// r's container is deleted.
func (r *Runtime) watch(sid int) {
	r.mu.Lock()
	r.sessions = append(r.sessions, sid)
	r.mu.Unlock()
	watchSession(sid)
}

// consoleSocket is where runc sends the master of a terminal's pty (nil
// without one).
func consoleSocket(terminal bool) (*runc.Socket, error) {
	if !terminal {
		return nil, nil
	}
	sock, err := runc.NewTempConsoleSocket()
	if err != nil {
		return nil, fmt.Errorf("create a console socket: %w", err)
	}
	return sock, nil
}

func closeSocket(s *runc.Socket) {
	if s != nil {
		s.Close()
	}
}

// wait reaps the container's process (this process's child since runc
// create exited) and keeps its exit status.
func (c *Container) wait() {
	c.code = reap(c.Pid)
	close(c.done)
}

// Wait waits for the container's process to exit and returns its status.
func (c *Container) Wait(ctx context.Context) (int, error) {
	select {
	case <-c.done:
		return c.code, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Start lets the created container run (runc start: its startContainer
// and poststart hooks).
func (r *Runtime) Start(ctx context.Context, id string) error {
	return r.explain("start native container "+id, r.runc.Start(ctx, id))
}

// Kill sends sig to the container's process.
func (r *Runtime) Kill(id string, sig syscall.Signal) error {
	return r.explain("signal native container "+id, r.runc.Kill(context.Background(), id, int(sig), nil))
}

// Pause and Resume freeze and thaw the container (runc, through its
// cgroup's freezer).
func (r *Runtime) Pause(id string) error {
	return r.explain("pause native container "+id, r.runc.Pause(context.Background(), id))
}

func (r *Runtime) Resume(id string) error {
	return r.explain("resume native container "+id, r.runc.Resume(context.Background(), id))
}

// Delete removes the container (runc delete: its process killed when
// force, its cgroup, its poststop hooks) and runc's state. A container
// runc does not know is not an error.
func (r *Runtime) Delete(ctx context.Context, id string, force bool) error {
	err := r.runc.Delete(ctx, id, &runc.DeleteOpts{Force: force})
	if err = r.explain("delete native container "+id, err); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return err
	}
	// What runc delete killed has exited: its orphans are zombies now.
	reapOrphans()
	r.mu.Lock()
	for _, sid := range r.sessions {
		forgetSession(sid)
	}
	r.sessions = nil
	r.mu.Unlock()
	for _, p := range []string{r.runc.Root, r.runc.Log, filepath.Join(r.bundle, pidFile)} {
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}

// Stats returns the metrics of the container's cgroup (the spec's path,
// which runc made).
func (r *Runtime) Stats(id string) (*anypb.Any, error) {
	spec, err := oci.LoadSpec(r.bundle)
	if err != nil {
		return nil, err
	}
	path := oci.CgroupPath(spec)
	if path == "" {
		return nil, fmt.Errorf("native container %s has no cgroup path wasmrun can read (none, or the systemd driver's slice:prefix:name form): %w", id, errdefs.ErrNotFound)
	}
	return oci.CgroupStats(path)
}

// Update changes the resources of the container's cgroup (runc update).
func (r *Runtime) Update(id string, res *specs.LinuxResources) error {
	return r.explain("update native container "+id, r.runc.Update(context.Background(), id, res))
}

// explain adds runc's own last error (from its JSON log) to err, and
// classifies what runc says of a container it does not know or that is
// no longer running.
func (r *Runtime) explain(what string, err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if last := r.lastLogError(); last != "" && !strings.Contains(msg, last) {
		msg += ": " + last
	}
	switch {
	case strings.Contains(msg, "does not exist"), strings.Contains(msg, "not running"), strings.Contains(msg, "process already finished"):
		return fmt.Errorf("%s: %s: %w", what, msg, errdefs.ErrNotFound)
	case strings.Contains(msg, "not paused"), strings.Contains(msg, "is paused"), strings.Contains(msg, "cannot "):
		return fmt.Errorf("%s: %s: %w", what, msg, errdefs.ErrFailedPrecondition)
	}
	return fmt.Errorf("%s: %s", what, msg)
}

// lastLogError is the message of the last error runc logged.
func (r *Runtime) lastLogError() string {
	f, err := os.Open(r.runc.Log)
	if err != nil {
		return ""
	}
	defer f.Close()
	var last string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e struct{ Level, Msg string }
		if json.Unmarshal(sc.Bytes(), &e) == nil && (e.Level == "error" || e.Level == "fatal") {
			last = e.Msg
		}
	}
	return last
}

// fileIO gives runc the task's stdio files as they are, as the
// container process's own descriptors (runc create hands its stdio down).
type fileIO struct{ stdin, stdout, stderr *os.File }

func (f *fileIO) Close() error          { return nil }
func (f *fileIO) Stdin() io.WriteCloser { return nil }
func (f *fileIO) Stdout() io.ReadCloser { return nil }
func (f *fileIO) Stderr() io.ReadCloser { return nil }

func (f *fileIO) Set(cmd *exec.Cmd) {
	cmd.Stdin, cmd.Stdout, cmd.Stderr = f.stdin, f.stdout, f.stderr
}

func orNull(f, null *os.File) *os.File {
	if f == nil {
		return null
	}
	return f
}

// Process is an exec process of a native container (ctr task exec, CRI
// exec). runc exec has no separate create: the process is made by Start
// (runc exec --detach), and until then it holds its stdio.
type Process struct {
	r          *Runtime
	id, execID string
	spec       specs.Process
	stdio      [3]*os.File // until Start

	mu  sync.Mutex
	Pid int // once started
	// Console is the master of its terminal, once started with one
	// (spec.terminal); the caller owns it.
	Console console.Console
	started bool
	exited  bool // the process is gone: its pid is no longer to be signalled
	done    chan struct{}
	code    int
}

// Started is the process's pid and its terminal's master (nil without
// one), once Start has made it; 0 and nil before.
func (p *Process) Started() (int, console.Console) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.Pid, p.Console
}

// Exec prepares exec process execID of container id running spec, with
// copies of the given stdio (the caller may close its own).
func (r *Runtime) Exec(id, execID string, spec *specs.Process, opts CreateOpts) (*Process, error) {
	p := &Process{r: r, id: id, execID: execID, spec: *spec, done: make(chan struct{})}
	for i, f := range []*os.File{opts.Stdin, opts.Stdout, opts.Stderr} {
		if f == nil {
			continue
		}
		fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			p.closeStdio()
			return nil, fmt.Errorf("exec process %s: %w", execID, err)
		}
		p.stdio[i] = os.NewFile(uintptr(fd), f.Name())
	}
	return p, nil
}

func (p *Process) closeStdio() {
	for i, f := range p.stdio {
		if f != nil {
			f.Close()
			p.stdio[i] = nil
		}
	}
}

// Start runs the process in the container (runc exec --detach): it
// becomes this process's child once runc has exited.
func (p *Process) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return fmt.Errorf("exec process %s was killed before it started: %w", p.execID, errdefs.ErrFailedPrecondition)
	}
	defer p.closeStdio()
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	sock, err := consoleSocket(p.spec.Terminal)
	if err != nil {
		return err
	}
	defer closeSocket(sock)
	pf := filepath.Join(p.r.runc.Root, "exec-"+p.execID+".pid")
	defer os.Remove(pf)
	eopts := &runc.ExecOpts{
		IO:      &fileIO{orNull(p.stdio[0], null), orNull(p.stdio[1], null), orNull(p.stdio[2], null)},
		PidFile: pf,
		Detach:  true,
	}
	if sock != nil {
		eopts.ConsoleSocket = sock
	}
	err = p.r.runc.Exec(ctx, p.id, p.spec, eopts)
	if err != nil {
		return p.r.explain(fmt.Sprintf("exec process %s in native container %s", p.execID, p.id), err)
	}
	pid, err := runc.ReadPidFile(pf)
	if err != nil {
		return fmt.Errorf("exec process %s: read its pid: %w", p.execID, err)
	}
	p.Pid, p.started = pid, true
	p.r.watch(pid)
	go p.wait()
	if sock != nil {
		if p.Console, err = sock.ReceiveMaster(); err != nil {
			unix.Kill(pid, unix.SIGKILL)
			return fmt.Errorf("exec process %s: receive its terminal: %w", p.execID, err)
		}
	}
	return nil
}

// wait waits for the started process to exit, marks it exited (so that
// no signal goes to its pid once reused) and reaps it.
func (p *Process) wait() {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, p.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.exited = true
	p.finish(reap(p.Pid))
}

// finish records the exit status; under mu.
func (p *Process) finish(code int) {
	select {
	case <-p.done:
	default:
		p.code = code
		close(p.done)
	}
}

// Signal sends sig to the process. Before Start, SIGKILL ends it there
// (it never runs) and other signals do nothing.
func (p *Process) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.exited:
		return nil
	case !p.started:
		if sig == unix.SIGKILL {
			p.exited = true
			p.closeStdio()
			p.finish(128 + int(sig))
		}
		return nil
	}
	if err := unix.Kill(p.Pid, sig); err != nil && err != unix.ESRCH {
		return fmt.Errorf("signal exec process %s: %w", p.execID, err)
	}
	return nil
}

// Wait waits until the process has exited and returns its status.
func (p *Process) Wait(ctx context.Context) (int, error) {
	select {
	case <-p.done:
		return p.code, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Delete removes what is left of the process: one not started never
// will be; one running is killed first.
func (p *Process) Delete(ctx context.Context) error {
	p.Signal(unix.SIGKILL)
	_, err := p.Wait(ctx)
	return err
}

// reap waits for child pid and returns its status as a shell gives it.
func reap(pid int) int {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 255
		}
		break
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
