package initproc

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/cni/procnet"
	"github.com/wasmrun/wasmrun/internal/runner"
	"github.com/wasmrun/wasmrun/wasi"
)

// The container process protocol:
//
//	parent (oci.Runtime.Create)            child (wasmrun-init ID: Main)
//	  |-- fork from a thread in the netns -->|
//	  |-- config JSON on fd 3, close ------->|  read config
//	  |                                      |  compile module (cache), prepare
//	  |<-- status JSON on fd 4, close -------|  {"ok":true} or {"error":"..."}
//	  |   (Create returns)                   |  open exec.fifo O_WRONLY: blocks
//	Start: open exec.fifo O_RDONLY --------->|  open returns; write 1 byte
//	  |<-- read 1 byte, remove exec.fifo ----|  run _start (or the #export)
//	  |                                      |  exit(guest's exit code)
//
// Signals take their default action in the child, so kill(2) of the
// container pid stops the guest wherever it is, and wait(2) sees it.

// Arg is argv[1] of a container process (argv[2] is the container's id).
const Arg = "__wasmrun_container_init"

// The fds the creator passes (exec.Cmd.ExtraFiles in this order).
const (
	ConfigFD = 3
	StatusFD = 4
)

// Config is everything the process needs, sent as JSON on ConfigFD.
type Config struct {
	ID     string `json:"id"`
	Module string `json:"module"`
	// ModuleFD, when set, is the module file Module names, opened by the
	// creator where it checked it: what the process reads.
	ModuleFD int            `json:"module_fd,omitempty"`
	Export   string         `json:"export"`
	Args     []string       `json:"args"`
	Env      []string       `json:"env"`
	Preopens []wasi.Preopen `json:"preopens"`
	// Shared are the guest's preopens after Preopens that the creator
	// passes as descriptors (see Shared).
	Shared   []Shared `json:"shared,omitempty"`
	CacheDir string   `json:"cache_dir"`
	// CacheUntrusted is the creator's verdict on CacheDir
	// (runner.TrustCache; "" to use it): in a user namespace the
	// process cannot judge the host's owners.
	CacheUntrusted string `json:"cache_untrusted,omitempty"`
	MemoryLimit    int64  `json:"memory_limit"`
	Fifo           string `json:"fifo"`
	// ResolvConf and Hosts are what getaddrinfo reads ("" = the host's).
	ResolvConf string `json:"resolv_conf,omitempty"`
	Hosts      string `json:"hosts,omitempty"`
	// Listen are TCP addresses (HOST:PORT) to listen on in the namespace,
	// as root, for the guest (after its preopens).
	Listen []string `json:"listen,omitempty"`
	// Egress is the host-side connect/send policy.
	Egress wasi.Egress `json:"egress"`
	// Net is what the process sets up in its namespace itself.
	Net procnet.Child `json:"net"`
	// Mounts are made in its own mount namespace (nil: it has none).
	Mounts *Mounts `json:"mounts,omitempty"`
	// Hostname is set in its own UTS namespace ("": none, or none of
	// its own).
	Hostname string `json:"hostname,omitempty"`
	// Privileges are what the process becomes after setup.
	Privileges *Privileges `json:"privileges"`
	// Verbose prints the guest's socket events on stderr (the app's).
	Verbose bool `json:"verbose,omitempty"`
	// TraceFD is the descriptor the creator passed the --trace file on
	// (0: no trace).
	TraceFD int `json:"trace_fd,omitempty"`
	// Progress reports a slow compile on stderr (drawn in place when
	// stderr is a terminal).
	Progress bool `json:"progress,omitempty"`
	// Instances, when more than 1, is how many instances of the module
	// the process runs (instances_linux.go); each gets its share of
	// MemoryLimit.
	Instances int `json:"instances,omitempty"`
	// MemoryAfterLoad are the writes that bring the process's memory
	// cgroup down to the container's limits once the module is compiled
	// or loaded (memory_linux.go): compiling is the runtime's work, which
	// takes far more than running the module does.
	MemoryAfterLoad []LimitWrite `json:"memory_after_load,omitempty"`
	// Sysctls are set in the process's namespaces first of all.
	Sysctls []Sysctl `json:"sysctls,omitempty"`
}

// Shared is a directory of another process's mount namespace, passed as
// a descriptor the creator opened through that process's root: an exec
// process's view of its container's tmpfs mounts, which exist in the
// container process's namespace only. A Go program cannot enter that
// namespace (setns(CLONE_NEWNS) wants a single thread), and the kernel
// binds no mount of another namespace, so the guest reaches the
// directory through the descriptor, which stays valid in a private root.
type Shared struct {
	FD        int    `json:"fd"`
	GuestPath string `json:"guest_path"`
	ReadOnly  bool   `json:"read_only,omitempty"`
}

// Status is the process's one report on StatusFD.
type Status struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// Exit is set when the guest itself ended during create: it trapped
	// or exited in its start function (the status it would exit with).
	Exit *int `json:"exit,omitempty"`
	// CompileTime is how long compiling the module (or reading it from
	// the cache) took.
	CompileTime time.Duration `json:"compile_time,omitempty"`
}

// IsInit reports whether this process was started as a container process
// (test binaries that serve as one check it first thing).
func IsInit() bool { return len(os.Args) > 1 && os.Args[1] == Arg }

// Main runs the container process and returns its exit code. It never
// returns an error to the caller: problems before the guest starts are
// reported to the parent on StatusFD, problems after it go to stderr.
func Main() int {
	ctx := context.Background()
	status := os.NewFile(StatusFD, "init-status")
	report := func(s Status) {
		json.NewEncoder(status).Encode(s)
		status.Close()
	}
	fail := func(err error) int {
		report(Status{Error: err.Error()})
		return 1
	}

	var cfg Config
	cfgFile := os.NewFile(ConfigFD, "init-config")
	if err := json.NewDecoder(cfgFile).Decode(&cfg); err != nil {
		return fail(fmt.Errorf("read container config: %w", err))
	}
	cfgFile.Close()
	if err := setSysctls(cfg.Sysctls); err != nil {
		return fail(err)
	}
	vports := virtualPorts(cfg.ID, &cfg.Net, cfg.Verbose)
	if err := cfg.Net.Setup(cfg.ID); err != nil {
		return fail(err)
	}
	var dirs []string
	for _, p := range cfg.Preopens {
		dirs = append(dirs, p.HostPath)
	}
	if err := cfg.Mounts.setup(dirs); err != nil {
		return fail(err)
	}
	if cfg.Hostname != "" {
		if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
			return fail(fmt.Errorf("set hostname %q: %w", cfg.Hostname, err))
		}
	}
	listeners, err := listen(cfg.Listen)
	if err != nil {
		return fail(err)
	}

	preopens := slices.Clone(cfg.Preopens)
	for _, d := range cfg.Shared {
		preopens = append(preopens, wasi.Preopen{HostPath: "/proc/self/fd/" + strconv.Itoa(d.FD), GuestPath: d.GuestPath, ReadOnly: d.ReadOnly})
	}

	var trace io.Writer // an untyped nil: no listener
	if cfg.TraceFD != 0 {
		trace = os.NewFile(uintptr(cfg.TraceFD), "trace")
	}
	var wasm []byte
	if cfg.ModuleFD != 0 {
		f := os.NewFile(uintptr(cfg.ModuleFD), cfg.Module)
		wasm, err = runner.LoadFile(f, cfg.Module)
		f.Close()
		if err != nil {
			return fail(err)
		}
	}
	p, err := runner.Prepare(ctx, runner.Options{
		Path:             cfg.Module,
		Wasm:             wasm,
		Name:             cfg.Args[0],
		Args:             cfg.Args[1:],
		Env:              cfg.Env,
		Preopens:         preopens,
		Stdin:            os.Stdin,
		Stdout:           os.Stdout,
		Stderr:           os.Stderr,
		CacheDir:         cfg.CacheDir,
		CacheChecked:     true,
		CacheUntrusted:   cfg.CacheUntrusted,
		Diag:             os.Stderr,
		Progress:         cfg.Progress,
		Terminal:         isTerminal(os.Stderr),
		Trace:            trace,
		Export:           cfg.Export,
		MemoryLimitPages: memoryPages(cfg.MemoryLimit / int64(max(cfg.Instances, 1))),
		ResolvConf:       cfg.ResolvConf,
		Hosts:            cfg.Hosts,
		Listeners:        listeners,
		Egress:           cfg.Egress,
		Outside:          outside(cfg.Net.Outbound),
		SocketEvents:     socketEvents(cfg.Verbose),
		VirtualPorts:     vports,
	})
	if err != nil {
		return fail(err)
	}
	if err := lowerMemory(cfg.MemoryAfterLoad); err != nil {
		return fail(err)
	}
	// The FIFO's directory is the runtime's, closed to the guest's user:
	// hold the FIFO itself, to open it for writing once that user.
	fifoPath, err := os.OpenFile(cfg.Fifo, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("open exec fifo: %w", err))
	}
	// Read while /proc is the host's (see drop); only a process with no
	// groups to set needs it.
	noSetgroups := len(cfg.Privileges.Groups) == 0 && setgroupsDenied()
	// The Shared ones are reached through /proc/self/fd, not bound.
	// The creator refused a writable directory that holds a
	// compiled-module cache, by its path; what is bound is judged again,
	// by what was opened (a guest running elsewhere may have swapped a
	// directory on the way for a link since).
	writable := map[string]bool{}
	for _, p := range cfg.Preopens {
		if !p.ReadOnly {
			writable[p.HostPath] = true
		}
	}
	caches := runner.KnownCaches(cfg.CacheDir)
	check := func(path, fdPath string) error {
		if !writable[path] {
			return nil
		}
		return runner.CheckCacheReachOpened(path, fdPath, caches)
	}
	if err := cfg.Mounts.enterPrivateRoot(dirs, []string{cmp.Or(cfg.ResolvConf, "/etc/resolv.conf"), cmp.Or(cfg.Hosts, "/etc/hosts")}, check); err != nil {
		return fail(err)
	}
	if err := cfg.Privileges.drop(noSetgroups); err != nil {
		return fail(fmt.Errorf("drop privileges: %w", err))
	}
	if err := checkReadable(cfg.ResolvConf, cfg.Hosts); err != nil {
		return fail(err)
	}
	var insts *instances
	if cfg.Instances > 1 {
		insts, err = startInstances(ctx, p, &cfg)
	} else {
		err = p.Instantiate(ctx)
	}
	if err != nil {
		var exit *runner.GuestExit
		var trap *runner.TrapError
		switch {
		case errors.As(err, &exit):
			report(Status{Error: err.Error(), Exit: &exit.Code})
			return exit.Code
		case errors.As(err, &trap):
			code := runner.TrapExitCode
			report(Status{Error: err.Error(), Exit: &code})
			return code
		}
		return fail(err)
	}
	report(Status{OK: true, CompileTime: p.CompileTime()})
	// Block until Start opens the FIFO for reading.
	fifo, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", fifoPath.Fd()), os.O_WRONLY, 0)
	fifoPath.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "wasmrun: container %s: open exec fifo: %v\n", cfg.ID, err)
		return runner.TrapExitCode
	}
	if _, err := fifo.Write([]byte{0}); err != nil {
		fmt.Fprintf(os.Stderr, "wasmrun: container %s: exec fifo: %v\n", cfg.ID, err)
		return runner.TrapExitCode
	}
	fifo.Close()
	// Setting up left garbage (the module's bytes, the compile or cache
	// read): give it back while the guest starts, on another thread, so a
	// long-running guest does not carry it.
	if insts != nil {
		// Before they run: a collection waits for every instance to
		// call the host (instances_linux.go).
		debug.FreeOSMemory()
		return insts.run(ctx)
	}
	go debug.FreeOSMemory()
	code, err := p.Run(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "wasmrun: %v\n", err)
	}
	return code
}

// isTerminal reports whether f is a terminal (the app's stderr, when
// wasmrun os runs on one).
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// memoryPages converts a memory limit in bytes to whole wasm pages (at
// least one; 0 means no limit). The guest's memory is most of what the
// container process uses, so the limit bounds it.
func memoryPages(limit int64) uint32 {
	if limit <= 0 {
		return 0
	}
	pages := limit / 65536
	switch {
	case pages < 1:
		return 1
	case pages > 65536:
		return 65536
	}
	return uint32(pages)
}

// outside is the guest's way out of its namespace (nil: none).
func outside(o *procnet.Outbound) *wasi.Outside {
	if o == nil {
		return nil
	}
	sockets := procnet.NewSockets(o.SocketFD, o)
	socket := func(r wasi.HostSocket) (int, error) {
		return sockets.Socket(procnet.Request{Domain: r.Domain, Type: r.Type, V6Only: r.V6Only, To: r.To})
	}
	return &wasi.Outside{
		Socket: socket, Blocked: sockets.Blocked,
		Inside: o.Inside, HostResolver: o.HostResolver,
	}
}

// socketEvents prints the guest's socket events on stderr for Verbose, as
// `wasmrun run --verbose` does; nil otherwise.
func socketEvents(verbose bool) func(wasi.SocketEvent) {
	if !verbose {
		return nil
	}
	return func(e wasi.SocketEvent) { fmt.Fprintf(os.Stderr, "wasmrun: guest: %s\n", e) }
}

// listen listens on each TCP address in the process's network namespace
// (the container's), before the privileges go: the guest may then serve
// a port it could not bind itself.
func listen(addrs []string) ([]*os.File, error) {
	var files []*os.File
	for _, addr := range addrs {
		network := "tcp"
		if host, _, _ := net.SplitHostPort(addr); net.ParseIP(host).To4() != nil {
			network = "tcp4" // an IPv4 socket, not Go's dual-stack one
		}
		l, err := net.Listen(network, addr)
		if err != nil {
			return nil, fmt.Errorf("listen on %s in the container's network namespace: %w", addr, errors.Unwrap(err))
		}
		f, err := l.(*net.TCPListener).File()
		l.Close() // f is a duplicate: the socket stays open
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
		files = append(files, f)
	}
	return files, nil
}

// checkReadable fails if a resolver file the guest's getaddrinfo reads (as
// the process's user, at each lookup) exists but is not readable by it:
// its lookups would quietly take other servers.
func checkReadable(paths ...string) error {
	for _, p := range paths {
		if p == "" {
			continue
		}
		f, err := os.Open(p)
		if errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("resolver file %s is not readable by the container's user (uid %d): %w", p, os.Geteuid(), errors.Unwrap(err))
		}
		if err == nil {
			f.Close()
		}
	}
	return nil
}
