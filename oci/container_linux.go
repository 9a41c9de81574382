package oci

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/cni"
	"github.com/wasmrun/wasmrun/cni/procnet"
	"github.com/wasmrun/wasmrun/internal/initproc"
	"github.com/wasmrun/wasmrun/internal/liveness"
	"github.com/wasmrun/wasmrun/internal/runner"
	"github.com/wasmrun/wasmrun/wasi"
)

// Runtime manages containers whose state lives under Root.
type Runtime struct {
	// Root holds one directory per container (state.json, exec.fifo).
	Root string
	// Network is where the namespaces of specs that ask for a new one
	// are made and how (the zero value: defaults under /run). Its Log
	// defaults to Log.
	Network NetworkConfig
	// Init is the container process's program ("" = InitProgram next to
	// this executable).
	Init string
	// Log, when set, receives one line per step (the CLI's --verbose).
	Log func(format string, args ...any)

	mu   sync.Mutex
	nets map[string]cni.Network // of the containers created here
}

// CreateOpts are the per-container choices of the front end.
type CreateOpts struct {
	// Stdin, Stdout and Stderr are the guest's stdio (nil is /dev/null).
	Stdin, Stdout, Stderr *os.File
	// Terminal makes the container process a session leader with Stdin
	// (a pty slave the front end opened) as its controlling terminal.
	Terminal bool
	// CacheDir is the compiled-module cache ("" for none).
	CacheDir string
	// Network shapes a new namespace (ignored for host and joined ones).
	Network NetworkOpts
	// Egress limits where the guest's sockets may connect and send,
	// checked host-side on top of the namespace.
	Egress Egress
	// Bundle is the bundle the container's state (and its hooks) report
	// when the one Create reads is a rewrite of it (a pod sandbox's pause
	// bundle); "" is the one Create reads.
	Bundle string
	// Extra is stored with the state for the front end (e.g. its name).
	Extra any
	// GuestMemory caps the guest's linear memory in bytes; 0 takes the
	// spec's memory limit less the runtime's share (GuestMemory).
	GuestMemory int64
	// Verbose makes the container process print the guest's socket
	// events on Stderr (initproc.Config.Verbose).
	Verbose bool
	// Trace, when set, receives a line per WASI call of the guest
	// (runner.Options.Trace); the container process gets it open.
	Trace *os.File
	// Progress reports a slow compile on Stderr (runner.Options.Progress;
	// the container process sees whether Stderr is a terminal).
	Progress bool
	// Listen are TCP addresses (HOST:PORT) the container process listens
	// on in the container's network namespace, before it drops its
	// privileges; the guest gets the sockets after its preopens.
	Listen []string
	// Instances, when more than 1, is how many instances of the module
	// the container process runs (initproc.Config.Instances).
	Instances int
}

// Container is a created container. Wait is only possible in the process
// that created it (the parent of the container process).
type Container struct {
	ID   string
	Pid  int
	rt   *Runtime
	cmd  *exec.Cmd
	done chan struct{}
	code int
	// cgroup, when set, puts the process in its cgroup.
	// oomScoreAdj is the process's /proc/PID/oom_score_adj (nil: the
	// creator's, inherited).
	oomScoreAdj *int
	// cgroup makes the container's cgroup and moves pid into it; it
	// returns the writes that bring it to the spec's memory limits once
	// the module is loaded (initproc.Config.MemoryAfterLoad).
	cgroup func(pid int) ([]initproc.LimitWrite, error)
	// compileTime is what the process took to compile the module.
	compileTime time.Duration
	// namespaces are the clone flags of the UTS and IPC namespaces it
	// gets (namespaces_linux.go).
	namespaces uintptr
	// shared are directories passed to the process as descriptors, its
	// preopens after the configuration's (initproc.Shared): an exec
	// process's view of its container's tmpfs mounts.
	shared []sharedDir
	// module is the module file (openModule), passed to the process to
	// read (initproc.Config.ModuleFD).
	module *os.File
}

func (r *Runtime) logf(format string, args ...any) {
	if r.Log != nil {
		r.Log(format, args...)
	}
}

// netConfig is r.Network with its log defaulting to ours.
func (r *Runtime) netConfig() NetworkConfig {
	cfg := r.Network
	if cfg.Log == nil {
		cfg.Log = r.logf
	}
	return cfg
}

// track keeps the network of a container this Runtime created, for
// Delete; untrack hands it over.
func (r *Runtime) track(id string, n cni.Network) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.nets == nil {
		r.nets = map[string]cni.Network{}
	}
	r.nets[id] = n
}

func (r *Runtime) untrack(id string) cni.Network {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.nets[id]
	delete(r.nets, id)
	return n
}

// Create sets up container id from the bundle: namespace, module compiled
// and instantiated in a child process that waits for Start.
func (r *Runtime) Create(ctx context.Context, id, bundle string, opts CreateOpts) (c *Container, err error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	bundle, err = filepath.Abs(bundle)
	if err != nil {
		return nil, err
	}
	spec, err := LoadSpec(bundle)
	if err != nil {
		return nil, err
	}
	if err := noUserNamespace(spec); err != nil {
		return nil, err
	}
	if spec.Process != nil && spec.Process.ApparmorProfile != "" {
		p := spec.Process.ApparmorProfile
		// Its setup (mounts, sysctls) is what the usual profiles deny,
		// and a profile taken after it would hold one thread of the Go
		// runtime's, not all of them: its own root, seccomp filter and
		// dropped privileges hold it instead.
		r.logf("container %s: the spec's AppArmor profile %s is not applied (wasmrun's container process confines itself: a root of its own, a seccomp filter, no capabilities)", id, p)
	}
	root := RootPath(bundle, spec)
	mod, err := ResolveModule(root, spec)
	if err != nil {
		return nil, err
	}
	modFile, err := openModule(root, mod)
	if err != nil {
		return nil, err
	}
	defer modFile.Close() // the process has its own
	modInfo, err := modFile.Stat()
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", mod.GuestPath, err)
	}
	priv, err := initproc.SpecPrivileges(spec)
	if err != nil {
		return nil, err
	}
	prog, err := r.initProgram()
	if err != nil {
		return nil, err
	}
	// The network, decided once; nothing is made before the state dir.
	// Its host sockets are held to what the egress policy's prefixes
	// open, whatever the container process asks.
	netOpts := opts.Network
	netOpts.Allow, netOpts.Deny = opts.Egress.Allow, opts.Egress.Deny
	netOpts.NameGrants = len(opts.Egress.AllowNames) > 0
	if os.Geteuid() == 0 {
		// Its host sockets are the app's user's, not root's.
		netOpts.SocketOwner = &procnet.Owner{UID: priv.UID, GID: priv.GID}
	}
	net, err := cni.Plan(r.netConfig(), networkTarget(id, spec), netOpts)
	if err != nil {
		return nil, err
	}
	own, hostname := privateNamespaces(spec)
	ctlOwn := own
	if os.Geteuid() != 0 {
		ctlOwn = 0 // IPC and UTS sysctls: only as root
	}
	ctls, err := sysctls(spec, ctlOwn, net.Mode() == cni.NetHost || net.Mode() == cni.NetSimulated)
	if err != nil {
		return nil, err
	}
	st := &stateFile{
		ID: id, Bundle: cmp.Or(opts.Bundle, bundle), Created: time.Now().UTC(), Module: mod.HostPath,
		Annotations: spec.Annotations, Hooks: spec.Hooks,
		Owner: os.Getpid(), OwnerTime: pidStartTime(os.Getpid()),
	}
	if opts.Extra != nil {
		if st.Extra, err = json.Marshal(opts.Extra); err != nil {
			return nil, err
		}
	}
	st.Net = net.Record()
	// The cgroup too is recorded before it exists: Delete removes it
	// whatever happens.
	st.Cgroup = CgroupPath(spec)
	if st.Cgroup == "" && spec.Linux != nil && spec.Linux.CgroupsPath != "" {
		r.logf("cgroup %s: the systemd driver's slice:prefix:name form is not supported; the container gets no cgroup", spec.Linux.CgroupsPath)
	}
	// The state directory appears with its state.json in it (made aside,
	// then renamed into place), so a crash at any instant leaves either
	// nothing under the id or a container that Delete and GC remove;
	// never a directory that blocks the name.
	dir := r.dir(id)
	if err := r.createDir(st); err != nil {
		return nil, err
	}
	var cleanups []func()
	defer func() {
		if err != nil {
			for i := len(cleanups) - 1; i >= 0; i-- {
				cleanups[i]()
			}
			os.RemoveAll(dir)
		}
	}()

	cleanups = append(cleanups, func() { net.Teardown(context.WithoutCancel(ctx)) })

	fifo := filepath.Join(dir, execFifo)
	if err := mkfifo(fifo); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		// The process opens it for writing as the spec's user.
		if err := os.Chown(fifo, int(priv.UID), int(priv.GID)); err != nil {
			return nil, fmt.Errorf("exec fifo: %w", err)
		}
	}
	args := append([]string{mod.GuestPath}, spec.Process.Args[1:]...)
	cfg := initproc.Config{
		ID: id, Module: mod.HostPath, Export: mod.Export, Args: args, Env: Env(spec),
		CacheDir: opts.CacheDir, MemoryLimit: cmp.Or(opts.GuestMemory, GuestMemory(spec)), Fifo: fifo,
		Egress: opts.Egress, Privileges: priv, Progress: opts.Progress, Listen: opts.Listen,
		Verbose: opts.Verbose, Instances: opts.Instances,
	}
	if opts.CacheDir != "" {
		// Judged here: in a user namespace, the process sees the host's
		// owners as its overflow id.
		cfg.CacheUntrusted = runner.UntrustedWhy(runner.TrustCache(opts.CacheDir))
	}
	preopens := Preopens(root, spec)
	// As root (a mount namespace, and the private root that takes the
	// preopens along): the spec's tmpfs mounts.
	var tmpfs []initproc.Tmpfs
	if os.Geteuid() == 0 {
		var tp []Preopen
		tmpfs, tp = tmpfsMounts(dir, spec)
		for i, t := range tmpfs {
			if err := os.MkdirAll(t.Path, 0o700); err != nil {
				return nil, fmt.Errorf("tmpfs mount %s: %w", tp[i].GuestPath, err)
			}
		}
		preopens = append(preopens, tp...)
	}
	for _, p := range preopens {
		cfg.Preopens = append(cfg.Preopens, wasi.Preopen{HostPath: p.HostPath, GuestPath: p.GuestPath, ReadOnly: p.ReadOnly})
	}
	if cfg.Mounts, err = containerMounts(root, spec, preopens); err != nil {
		return nil, err
	}
	cfg.Mounts.Tmpfs = tmpfs
	if err := runner.CheckCacheReach(cfg.Preopens, opts.CacheDir); err != nil {
		return nil, err
	}

	c = &Container{ID: id, rt: r, done: make(chan struct{}), oomScoreAdj: spec.Process.OOMScoreAdj, module: modFile}
	c.namespaces, cfg.Hostname = own, hostname
	cfg.Sysctls = ctls
	if p := st.Cgroup; p != "" {
		cleanups = append(cleanups, func() { deleteCgroup(p) })
		var res *specs.LinuxResources
		if spec.Linux != nil {
			res = spec.Linux.Resources
		}
		loading := withCompileRoom(res, modInfo.Size())
		c.cgroup = func(pid int) ([]initproc.LimitWrite, error) {
			cg, err := newCgroup(p, loading, pid)
			if err != nil || loading == res {
				return nil, err
			}
			return cg.memoryWrites(normalizeResources(res).Memory)
		}
	}
	if err := c.spawn(ctx, prog, net, cfg, opts); err != nil {
		if st.Cgroup != "" && c.code == 128+int(syscall.SIGKILL) && ctx.Err() == nil {
			if cg, lerr := loadCgroup(st.Cgroup); lerr == nil {
				if n, _ := cg.oomKills(); n > 0 {
					err = fmt.Errorf("the kernel's OOM killer ended the container process while it was being created (loading or compiling the module, or the guest's start function): it used all the memory its cgroup allows (%s)", memoryWhy(spec, modInfo.Size()))
				}
			}
		}
		return nil, err
	}
	// Not through c: an error return sets the named result to nil before
	// the cleanups run.
	proc, done := c.cmd.Process, c.done
	cleanups = append(cleanups, func() { proc.Kill(); <-done })
	st.Pid = c.Pid
	st.PidTime = pidStartTime(c.Pid)
	st.Net = net.Record()
	if err := r.writeState(st); err != nil {
		return nil, err
	}
	if err := r.runHooks(ctx, st, hooksCreate); err != nil {
		return nil, err
	}
	r.track(id, net)
	r.logf("container %s: process %d created (module %s, compiled or read from the cache in %s)", id, c.Pid, mod.HostPath, c.compileTime.Round(time.Millisecond))
	return c, nil
}

// spawn prepares the network, starts the container process (program
// prog) in it and waits for its ready report.
func (c *Container) spawn(ctx context.Context, prog string, net cni.Network, cfg initproc.Config, opts CreateOpts) error {
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer cfgR.Close()
	defer cfgW.Close()
	statR, statW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer statR.Close()
	defer statW.Close()

	cmd := exec.Command(prog, initproc.Arg, cfg.ID)
	// A stream not given is /dev/null (exec.Cmd's nil), never a closed
	// descriptor: the process's runtime would open /dev/null itself,
	// which a container cgroup denying all devices refuses.
	if opts.Stdin != nil {
		cmd.Stdin = opts.Stdin
	}
	if opts.Stdout != nil {
		cmd.Stdout = opts.Stdout
	}
	if opts.Stderr != nil {
		cmd.Stderr = opts.Stderr
	}
	cmd.ExtraFiles = []*os.File{cfgR, statW} // fds 3 and 4
	if opts.Trace != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, opts.Trace)
		cfg.TraceFD = 2 + len(cmd.ExtraFiles)
	}
	if c.module != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, c.module)
		cfg.ModuleFD = 2 + len(cmd.ExtraFiles)
	}
	for _, d := range c.shared {
		cmd.ExtraFiles = append(cmd.ExtraFiles, d.dir)
		cfg.Shared = append(cfg.Shared, initproc.Shared{FD: 2 + len(cmd.ExtraFiles), GuestPath: d.guestPath, ReadOnly: d.readOnly})
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// The container dies with the thread that forked it if its
		// creator dies: nothing runs on unsupervised.
		Pdeathsig: syscall.SIGKILL,
	}
	if opts.Terminal {
		// Ctty is the descriptor in the child: its stdin.
		cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, true, 0
	}
	var err2 error
	if cfg.Net, err2 = net.Prepare(ctx, cmd); err2 != nil {
		return err2
	}
	// A root of its own once set up, with the mounts it asks for, for a
	// process that could otherwise reach more than its user's files: one
	// of root's (whatever the spec's user, it may be given capabilities),
	// one in a user namespace (it is root there).
	if os.Geteuid() == 0 || cmd.SysProcAttr.Cloneflags&syscall.CLONE_NEWUSER != 0 {
		if cfg.Mounts == nil {
			cfg.Mounts = &initproc.Mounts{}
		}
		cfg.Mounts.PrivateRoot = true
	}
	if !cfg.Mounts.Empty() {
		c.mountNamespace(cmd, &cfg)
	}
	c.privateNamespaces(cmd, &cfg)
	if err := mapPrivileges(cmd, cfg.Privileges); err != nil {
		return err
	}
	c.rt.logf("network mode: %s", net.Mode().Describe())
	c.rt.logf("confinement: %s", confinement(cfg))
	// The guest resolves names as `ip netns exec` would in its namespace:
	// /etc/netns/<name>/{resolv.conf,hosts} override the host's files,
	// and the front end's own override both.
	cfg.ResolvConf, cfg.Hosts = opts.Network.Resolver(net.Path())
	err = startIn(net.Path(), cfg.Privileges.Birth(), c.done, cmd)
	pid := 0
	if err == nil {
		pid = cmd.Process.Pid
	}
	if err := net.Started(pid, err); err != nil {
		return fmt.Errorf("start container process: %w", err)
	}
	c.cmd, c.Pid = cmd, pid
	go func() {
		c.cmd.Wait()
		c.code = exitCode(c.cmd.ProcessState)
		net.Exited()
		close(c.done)
	}()
	cfgR.Close()
	statW.Close()

	// Its OOM score, as the spec says (the kubelet's per QoS class),
	// before it does anything: it started with the creator's, and a
	// shim's is containerd's (about -999), which would make the kernel's
	// OOM killer take any other process first.
	if c.oomScoreAdj != nil {
		file := fmt.Sprintf("/proc/%d/oom_score_adj", pid)
		err := os.WriteFile(file, []byte(strconv.Itoa(*c.oomScoreAdj)), 0)
		if errors.Is(err, fs.ErrPermission) {
			// Lower than the creator's own takes CAP_SYS_RESOURCE, which
			// a creator may lack (as containerd's shim library does, it
			// goes on): the process keeps a higher score, the safe side.
			had, _ := os.ReadFile(file)
			c.rt.logf("container %s: its OOM score stays %s, not %d: lowering it below the creator's takes CAP_SYS_RESOURCE", cfg.ID, strings.TrimSpace(string(had)), *c.oomScoreAdj)
			err = nil
		}
		if err != nil {
			cmd.Process.Kill()
			<-c.done
			return fmt.Errorf("set the OOM score of the container process to %d: %w", *c.oomScoreAdj, err)
		}
	}
	// Into its cgroup before it reads what to run, so that compiling and
	// instantiating the module are the container's.
	if c.cgroup != nil {
		if cfg.MemoryAfterLoad, err = c.cgroup(pid); err != nil {
			cmd.Process.Kill()
			<-c.done
			return err
		}
	}
	if err := json.NewEncoder(cfgW).Encode(cfg); err != nil {
		cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("send container config: %w", err)
	}
	cfgW.Close()

	// Compiling and instantiating may take long, or forever (a start
	// function that never returns): ctx's cancellation stops it.
	// Bounded: what the process writes there is ours to read, and it may
	// be the guest's (its start function runs before the report).
	read := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(statR, maxStatus))
		read <- b
	}()
	var b []byte
	select {
	case b = <-read:
	case <-ctx.Done():
		cmd.Process.Kill()
		<-c.done
		return ctx.Err()
	}
	var s initproc.Status
	if err := json.Unmarshal(b, &s); err != nil || !s.OK {
		cmd.Process.Kill()
		<-c.done
		if s.Exit != nil {
			return &GuestExitError{Code: *s.Exit, Msg: s.Error}
		}
		if s.Error != "" {
			return errors.New(s.Error)
		}
		return fmt.Errorf("container process exited during create (status %d)", c.code)
	}
	c.compileTime = s.CompileTime
	return nil
}

// memoryWhy says what bounded the cgroup of a container process being
// created: the spec's limit and the compile room on top of it.
func memoryWhy(spec *specs.Spec, moduleSize int64) string {
	l := MemoryLimit(spec)
	if l <= 0 {
		return "no limit: the machine's memory ran out"
	}
	room := withCompileRoom(spec.Linux.Resources, moduleSize).Memory.Limit
	return fmt.Sprintf("%d MiB while loading the module: the limit of %d MiB and room for compiling", *room>>20, l>>20)
}

// maxStatus bounds the container process's ready report (initproc.Status,
// a few hundred bytes of JSON, an error message at most a few KiB).
const maxStatus = 1 << 20

// confinement says, for --verbose, what holds the container process of
// cfg beyond its user and capabilities.
func confinement(cfg initproc.Config) string {
	root := "the host's file system (no mount namespace)"
	if cfg.Mounts != nil && cfg.Mounts.PrivateRoot {
		root = "a root of its own once set up (its directories only)"
	}
	filter := "the default seccomp filter"
	if cfg.Privileges != nil && cfg.Privileges.Seccomp != nil {
		filter = "the spec's seccomp profile"
	}
	return root + ", " + filter
}

// mountNamespace gives the container process a mount namespace of its own
// for its read-only mounts and its private root. Without root that needs
// a user namespace: the
// rootless network has one; otherwise one mapping the caller's ids to 0
// inside, as the rootless network's does (an id that is not 0 there would
// lose the capabilities to mount at exec). Where the system allows none, the process gets no mount
// namespace, and read-only is the WASI layer's and the read-only opens'
// alone (the user's own permissions still bound what it can write).
func (c *Container) mountNamespace(cmd *exec.Cmd, cfg *initproc.Config) {
	a := cmd.SysProcAttr
	if os.Geteuid() != 0 && a.Cloneflags&syscall.CLONE_NEWUSER == 0 {
		if ok, reason := UserNamespacesAllowed(); !ok {
			c.rt.logf("read-only directories without a mount namespace: %s", reason)
			cfg.Mounts = nil
			return
		}
		a.Cloneflags |= syscall.CLONE_NEWUSER
		a.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		a.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
		a.GidMappingsEnableSetgroups = false
	}
	a.Cloneflags |= syscall.CLONE_NEWNS
}

// mapPrivileges checks the spec's ids against who the process can become
// without root. Its ids are the container's: in a user namespace we made
// (rootless), only the mapped ones (0, the caller outside) exist; without
// one the process can be no one but the caller, whatever the spec says.
// As root, the ids are taken as they are.
func mapPrivileges(cmd *exec.Cmd, p *initproc.Privileges) error {
	if os.Geteuid() == 0 {
		return nil
	}
	a := cmd.SysProcAttr
	if a.Cloneflags&syscall.CLONE_NEWUSER == 0 {
		p.UID, p.GID, p.Groups = uint32(os.Geteuid()), uint32(os.Getegid()), nil
		return nil
	}
	mapped := func(id uint32, m []syscall.SysProcIDMap) bool {
		for _, e := range m {
			if id >= uint32(e.ContainerID) && id < uint32(e.ContainerID+e.Size) {
				return true
			}
		}
		return false
	}
	if !mapped(p.UID, a.UidMappings) || !mapped(p.GID, a.GidMappings) {
		return fmt.Errorf("user %d:%d: without root a container has only user 0 (you, outside it)", p.UID, p.GID)
	}
	if len(p.Groups) > 0 {
		return errors.New("additional groups need root")
	}
	return nil
}

// InitProgram is the container process's program (package initproc), which
// a front end finds next to its own binary unless Runtime.Init names it.
const InitProgram = "wasmrun-init"

// defaultInit is InitProgram next to this executable (a test binary that
// serves as the program itself returns its own path).
var defaultInit = func() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find own binary: %w", err)
	}
	return filepath.Join(filepath.Dir(self), InitProgram), nil
}

// initProgram is the path of the container process's program, with a
// clear error when it is missing.
func (r *Runtime) initProgram() (string, error) {
	prog := r.Init
	if prog == "" {
		var err error
		if prog, err = defaultInit(); err != nil {
			return "", err
		}
	}
	if err := unix.Access(prog, unix.X_OK); err != nil {
		return "", fmt.Errorf("container process program %s: %w (%s is installed next to the wasmrun binaries; make build builds it)", prog, err, InitProgram)
	}
	return prog, nil
}

// execFifo is the name of the exec FIFO in the container's state directory.
const execFifo = "exec.fifo"

// mkfifo creates the exec FIFO.
func mkfifo(path string) error {
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return fmt.Errorf("create exec fifo: %w", err)
	}
	return nil
}

// startIn starts cmd from an OS thread that has entered netns ("" = ours),
// so the new process (every thread of it) lives there. With birth set (as
// root), the thread first takes the capability sets the process is to be
// born with (initproc.Birth). Such a thread is changed for good, and the
// process's parent death signal follows the thread that forked it, so the
// thread stays locked and alive until exited is closed, then goes.
func startIn(netns string, birth *initproc.Birth, exited <-chan struct{}, cmd *exec.Cmd) error {
	if netns == "" && birth == nil {
		return cmd.Start()
	}
	target := -1
	if netns != "" {
		var err error
		if target, err = unix.Open(netns, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
			return fmt.Errorf("open network namespace %s: %w", netns, err)
		}
		defer unix.Close(target)
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if birth != nil {
			// Unlocked never: the goroutine ends locked, after the
			// process, and Go discards the thread.
			err := birth.Apply()
			if err == nil && target >= 0 {
				err = setns(target, netns)
			}
			if err == nil {
				err = cmd.Start()
			}
			errc <- err
			if err == nil {
				<-exited
			}
			return
		}
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(orig)
		if err := setns(target, netns); err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		err = cmd.Start()
		if serr := unix.Setns(orig, unix.CLONE_NEWNET); serr != nil {
			errc <- err
			return // leave the thread locked: Go discards it
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

func setns(fd int, name string) error {
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter network namespace %s: %w", name, err)
	}
	return nil
}

func exitCode(ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// Wait waits for the container process to exit and returns its exit status
// (128+signal when a signal ended it).
func (c *Container) Wait(ctx context.Context) (int, error) {
	select {
	case <-c.done:
		return c.code, nil
	case <-ctx.Done():
		return -1, ctx.Err()
	}
}

// Done is closed when the container process has exited.
func (c *Container) Done() <-chan struct{} { return c.done }

// Start lets a created container's guest run. It works from any process.
func (r *Runtime) Start(ctx context.Context, id string) error {
	st, err := r.readState(id)
	if err != nil {
		return err
	}
	if s := r.status(st); s != specs.StateCreated {
		return fmt.Errorf("container %s is %s, not created: %w", id, s, ErrFailedPrecondition)
	}
	if err := r.runHooks(ctx, st, hooksStartContainer); err != nil {
		return err
	}
	fifo := filepath.Join(r.dir(id), execFifo)
	fd, err := unix.Open(fifo, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("start container %s: %w", id, err)
	}
	defer unix.Close(fd)
	// Wait for the child's byte, checking that it is still alive: a child
	// that died before opening the FIFO would otherwise make us wait forever.
	for {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, 100)
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("start container %s: %w", id, err)
		}
		if n > 0 && pfd[0].Revents&unix.POLLIN != 0 {
			var b [1]byte
			if n, _ := unix.Read(fd, b[:]); n == 1 {
				break
			}
		}
		if !st.alive() {
			return fmt.Errorf("container %s exited before it started: %w", id, ErrFailedPrecondition)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	os.Remove(fifo)
	r.logf("container %s: started", id)
	r.warnHooks(ctx, st, hooksPoststart)
	return nil
}

// GuestExitError is a Create that failed because the guest itself ended
// while it was being instantiated: it trapped (Code 134) or exited in its
// start function. Code is the status a front end reports for it.
type GuestExitError struct {
	Code int
	Msg  string
}

func (e *GuestExitError) Error() string { return e.Msg }

// ErrFailedPrecondition marks an operation that is illegal in the
// container's current state.
var ErrFailedPrecondition = errors.New("failed precondition")

// State returns the OCI state of container id.
func (r *Runtime) State(id string) (*specs.State, error) {
	st, err := r.readState(id)
	if err != nil {
		return nil, err
	}
	s := &specs.State{Version: specs.Version, ID: id, Status: r.status(st), Bundle: st.Bundle, Annotations: st.Annotations}
	if s.Status != specs.StateStopped {
		s.Pid = st.Pid
	}
	return s, nil
}

// Kill sends sig to the container process. Killing a stopped container is
// not an error (the signal has nowhere to go).
func (r *Runtime) Kill(id string, sig syscall.Signal) error {
	st, err := r.readState(id)
	if err != nil {
		return err
	}
	if !st.alive() {
		return nil
	}
	if err := liveness.Signal(st.Pid, st.PidTime, sig); err != nil {
		return fmt.Errorf("kill container %s: %w", id, err)
	}
	return nil
}

// Delete removes a stopped container: its namespace (if it owns it), its
// cgroup and its state, then runs its poststop hooks. force kills a live
// process first.
func (r *Runtime) Delete(ctx context.Context, id string, force bool) error {
	st, err := r.readState(id)
	if err != nil {
		return err
	}
	if st.alive() {
		if !force {
			return fmt.Errorf("container %s is still running: %w", id, ErrFailedPrecondition)
		}
		liveness.Signal(st.Pid, st.PidTime, unix.SIGKILL)
		if st.Cgroup != "" {
			// A paused (frozen) process dies only once thawed.
			if cg, err := loadCgroup(st.Cgroup); err == nil {
				cg.thaw()
			}
		}
		waitGone(ctx, st)
	}
	var errs []error
	if st.Cgroup != "" {
		if err := deleteCgroup(st.Cgroup); err != nil {
			errs = append(errs, fmt.Errorf("delete cgroup %s: %w", st.Cgroup, err))
		}
	}
	if n := r.untrack(id); n != nil {
		errs = append(errs, n.Teardown(ctx))
	} else if err := cni.Release(ctx, r.netConfig(), st.Net); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(r.dir(id)); err != nil {
		errs = append(errs, err)
	}
	r.warnHooks(ctx, st, hooksPoststop)
	r.logf("container %s: deleted", id)
	return errors.Join(errs...)
}

// waitGone waits until a killed process has exited, through a pidfd (which
// becomes readable at exit, also for a process that is not our child).
func waitGone(ctx context.Context, st *stateFile) {
	fd, err := unix.PidfdOpen(st.Pid, 0)
	if err != nil {
		return // already gone
	}
	defer unix.Close(fd)
	if !st.alive() {
		return // the pid was reused before we opened it
	}
	for ctx.Err() == nil {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if n, err := unix.Poll(pfd, 100); n > 0 || (err != nil && err != unix.EINTR) {
			return
		}
	}
}

// List returns the ids of all containers with state under Root.
func (r *Runtime) List() ([]string, error) {
	ents, err := os.ReadDir(r.Root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() && ValidateID(e.Name()) == nil && !strings.HasPrefix(e.Name(), creatingPrefix) {
			if _, err := os.Stat(filepath.Join(r.Root, e.Name(), "state.json")); err == nil {
				ids = append(ids, e.Name())
			}
		}
	}
	return ids, nil
}

// Extra returns the front end's data stored at Create.
func (r *Runtime) Extra(id string) (json.RawMessage, error) {
	st, err := r.readState(id)
	if err != nil {
		return nil, err
	}
	return st.Extra, nil
}

// Stop sends sig, waits up to grace for the process to exit, then kills it.
// If the container's creator is gone, Stop also deletes the container;
// otherwise the creator does, once it sees the exit.
func (r *Runtime) Stop(ctx context.Context, id string, sig syscall.Signal, grace time.Duration) error {
	st, err := r.readState(id)
	if err != nil {
		return err
	}
	// Being created (its creator is compiling the module, or running a
	// start function that may never return): the creator gets the
	// signal, stops the creation and removes what it made; after grace it
	// is killed (its container process dies with it, and what is left is
	// any next run's to remove).
	if st.Pid == 0 && st.ownerAlive() {
		if err := liveness.Signal(st.Owner, st.OwnerTime, sig); err != nil {
			return fmt.Errorf("stop %s: %w", id, err)
		}
		deadline := time.Now().Add(grace)
		for st.ownerAlive() && ctx.Err() == nil {
			if !time.Now().Before(deadline) {
				liveness.Signal(st.Owner, st.OwnerTime, unix.SIGKILL)
				deadline = time.Now().Add(grace)
			}
			time.Sleep(20 * time.Millisecond)
			next, err := r.readState(id)
			if err != nil {
				return nil // removed by its creator
			}
			if next.Pid != 0 {
				st = next // created after all: stop its process below
				break
			}
		}
	}
	if st.alive() {
		if err := liveness.Signal(st.Pid, st.PidTime, sig); err != nil {
			return fmt.Errorf("stop %s: %w", id, err)
		}
		gctx, cancel := context.WithTimeout(ctx, grace)
		waitGone(gctx, st)
		cancel()
		if st.alive() {
			liveness.Signal(st.Pid, st.PidTime, unix.SIGKILL)
			waitGone(ctx, st)
		}
	}
	if !st.ownerAlive() {
		// The creator may have deleted it between our check and now.
		if err := r.Delete(ctx, id, true); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}
