package oci

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/cni"
	"github.com/wasmrun/wasmrun/internal/initproc"
	"github.com/wasmrun/wasmrun/internal/runner"
	"github.com/wasmrun/wasmrun/wasi"
)

// An exec process is a second container process in a living container:
// another module (or the same one) given by its path in the container,
// run by the container process's program with the same protocol (config,
// status, an exec FIFO of its own that Start releases). It lives in the
// container:
//
//   - its network namespace: started from a thread in the namespace the
//     state records (the container's own, or the one it joined); the host's
//     for a container on the host network;
//   - its cgroup, joined before the process is told what to run, as the
//     container process does;
//   - its filesystem view: the container's root and preopens (bind mounts)
//     with their read-only flags, readonlyPaths and maskedPaths, all from
//     the container's spec. A Go program cannot enter another process's
//     mount namespace (setns(CLONE_NEWNS) fails once it has more than one
//     thread), so the exec process builds a mount namespace of its own
//     from the same configuration; as that configuration is derived from
//     the spec alone, it is the same view. The spec's tmpfs mounts are the
//     exception: they are the container process's own, and no other
//     process can make them again or bind them, so the exec process gets
//     them as descriptors opened through that process's root
//     (sharedTmpfs): the same files, the same size limit, read-only
//     where they are;
//   - the container's environment, with the exec process spec's on top;
//     the exec spec's user, capabilities, rlimits and no_new_privileges
//     (as runc exec takes them; containerd's clients copy the container's
//     process, so they are the container's) and the container's seccomp
//     profile and memory cap.
//
//   - its way out: where the container process reaches the outside
//     through host sockets (outbound, a namespace without a bridge), the
//     exec process gets its own such server, in the process that makes
//     it, with the container's limits (cni.Join).
//
// A rootless container's namespace belongs to a user namespace of its
// process and is not entered.

// ExecOpts are the front end's choices for one exec process.
type ExecOpts struct {
	// Stdin, Stdout and Stderr are its stdio (nil is /dev/null).
	Stdin, Stdout, Stderr *os.File
	// Terminal: Stdin is a pty slave, the process's controlling terminal
	// (CreateOpts.Terminal); the process spec's Terminal asks for it.
	Terminal bool
	// CacheDir is the compiled-module cache ("" for none).
	CacheDir string
	// Bundle is the bundle the container was created from when it is not
	// the one its state reports (CreateOpts.Bundle); "" is that one.
	Bundle string
	// Egress limits where the guest's sockets may connect and send.
	Egress Egress
}

// Process is an exec process. Like a Container, it is waited for only by
// the process that made it.
type Process struct {
	// ID is the container's id, ExecID the process's.
	ID, ExecID string
	Pid        int
	c          *Container
	fifo       string
}

// Exec creates exec process execID in container id, which must be alive,
// running proc (proc.Args[0] is the module's path in the container): the
// process is ready, its module compiled and instantiated, and waits for
// Start.
func (r *Runtime) Exec(ctx context.Context, id, execID string, proc *specs.Process, opts ExecOpts) (_ *Process, err error) {
	if err := ValidateID(execID); err != nil {
		return nil, fmt.Errorf("exec id: %w", err)
	}
	if proc == nil {
		return nil, errors.New("exec process: no process spec")
	}
	if proc.Terminal && !opts.Terminal {
		return nil, errors.New("exec process: the spec asks for a terminal and none was given (ExecOpts.Terminal)")
	}
	st, err := r.readState(id)
	if err != nil {
		return nil, err
	}
	if s := r.status(st); s != specs.StateRunning && s != specs.StateCreated {
		return nil, fmt.Errorf("exec in container %s: it is %s: %w", id, s, ErrFailedPrecondition)
	}
	if st.Net.Mode == NetRootless {
		return nil, fmt.Errorf("exec in container %s: its network namespace belongs to its rootless process and cannot be joined: %w", id, ErrFailedPrecondition)
	}
	bundle := cmp.Or(opts.Bundle, st.Bundle)
	spec, err := LoadSpec(bundle)
	if err != nil {
		return nil, err
	}
	root := RootPath(bundle, spec)
	// The exec process's own spec: the container's, with its process.
	es := *spec
	es.Process = proc
	mod, err := ResolveModule(root, &es)
	if err != nil {
		return nil, err
	}
	// Opened here, where the check was: the running guest may change
	// its root's paths at any time.
	modFile, err := openModule(root, mod)
	if err != nil {
		return nil, err
	}
	defer modFile.Close() // the process has its own
	priv, err := initproc.SpecPrivileges(&es)
	if err != nil {
		return nil, err
	}
	prog, err := r.initProgram()
	if err != nil {
		return nil, err
	}
	// The container's tmpfs mounts, as its process has them.
	var shared []sharedDir
	if os.Geteuid() == 0 {
		if shared, err = r.sharedTmpfs(id, st, spec); err != nil {
			return nil, fmt.Errorf("exec in container %s: %w", id, err)
		}
		defer func() {
			for _, d := range shared {
				d.dir.Close()
			}
		}()
	}
	net, err := cni.Join(r.netConfig(), st.Net)
	if err != nil {
		return nil, fmt.Errorf("exec in container %s: %w", id, err)
	}

	fifo := filepath.Join(r.dir(id), "exec-"+execID+".fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("exec process %s of container %s already exists", execID, id)
		}
		return nil, fmt.Errorf("create exec fifo: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(fifo)
		}
	}()
	if os.Geteuid() == 0 {
		if err := os.Chown(fifo, int(priv.UID), int(priv.GID)); err != nil {
			return nil, fmt.Errorf("exec fifo: %w", err)
		}
	}
	cfg := initproc.Config{
		ID: id, Module: mod.HostPath, Export: mod.Export,
		Args: append([]string{mod.GuestPath}, proc.Args[1:]...), Env: Env(&specs.Spec{Process: &specs.Process{Env: mergeEnv(spec.Process.Env, proc.Env), Cwd: proc.Cwd}}),
		CacheDir: opts.CacheDir, MemoryLimit: GuestMemory(spec), Fifo: fifo,
		Egress: opts.Egress, Privileges: priv,
	}
	if opts.CacheDir != "" {
		// Judged here: in a user namespace, the process sees the host's
		// owners as its overflow id.
		cfg.CacheUntrusted = runner.UntrustedWhy(runner.TrustCache(opts.CacheDir))
	}
	preopens := Preopens(root, spec)
	for _, p := range preopens {
		cfg.Preopens = append(cfg.Preopens, wasi.Preopen{HostPath: p.HostPath, GuestPath: p.GuestPath, ReadOnly: p.ReadOnly})
	}
	if cfg.Mounts, err = containerMounts(root, spec, preopens); err != nil {
		return nil, err
	}
	if err := runner.CheckCacheReach(cfg.Preopens, opts.CacheDir); err != nil {
		return nil, err
	}
	// Its own OOM score, else the container's (as runc does).
	c := &Container{ID: id, rt: r, done: make(chan struct{}), oomScoreAdj: cmp.Or(proc.OOMScoreAdj, spec.Process.OOMScoreAdj)}
	c.shared, c.module = shared, modFile
	if p := st.Cgroup; p != "" {
		// The container's cgroup as it is: its limit is shared with the
		// running guest, so there is no compile room to give an exec
		// process (a cached module takes little to load).
		c.cgroup = func(pid int) ([]initproc.LimitWrite, error) { return nil, joinCgroup(p, pid) }
	}
	if err := c.spawn(ctx, prog, net, cfg, CreateOpts{Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr, Terminal: opts.Terminal}); err != nil {
		net.Teardown(context.WithoutCancel(ctx)) // its socket server, if it was not started
		return nil, fmt.Errorf("exec %s in container %s: %w", execID, id, err)
	}
	r.logf("container %s: exec process %s created: process %d (module %s)", id, execID, c.Pid, mod.HostPath)
	return &Process{ID: id, ExecID: execID, Pid: c.Pid, c: c, fifo: fifo}, nil
}

// mergeEnv is base with over's variables added, those of over winning.
func mergeEnv(base, over []string) []string {
	out := make([]string, 0, len(base)+len(over))
	at := map[string]int{}
	for _, kv := range append(base[:len(base):len(base)], over...) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := at[k]; ok {
			out[i] = kv
			continue
		}
		at[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// Start lets the exec process's guest run.
func (p *Process) Start(ctx context.Context) error {
	fd, err := unix.Open(p.fifo, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("start exec process %s: %w", p.ExecID, err)
	}
	defer unix.Close(fd)
	// The process's byte, unless it died first (it would never write).
	for {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, 100)
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("start exec process %s: %w", p.ExecID, err)
		}
		if n > 0 && pfd[0].Revents&unix.POLLIN != 0 {
			var b [1]byte
			if n, _ := unix.Read(fd, b[:]); n == 1 {
				break
			}
		}
		select {
		case <-p.c.done:
			return fmt.Errorf("exec process %s exited before it started: %w", p.ExecID, ErrFailedPrecondition)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
	}
	os.Remove(p.fifo)
	p.c.rt.logf("container %s: exec process %s started", p.ID, p.ExecID)
	return nil
}

// Signal sends sig to the exec process (nothing once it has exited).
func (p *Process) Signal(sig syscall.Signal) error {
	if err := p.c.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal exec process %s: %w", p.ExecID, err)
	}
	return nil
}

// Wait waits for the exec process to exit and returns its exit status
// (128+signal when a signal ended it).
func (p *Process) Wait(ctx context.Context) (int, error) { return p.c.Wait(ctx) }

// Done is closed when the exec process has exited.
func (p *Process) Done() <-chan struct{} { return p.c.done }

// Delete removes what is left of an exited exec process (its exec FIFO,
// when it never started); one still alive is killed first.
func (p *Process) Delete(ctx context.Context) error {
	p.Signal(syscall.SIGKILL)
	select {
	case <-p.c.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := os.Remove(p.fifo); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
