// Package runner loads, compiles and runs one WASI command module in the
// calling process: module file checks, the compiled-module cache, the wasi
// host module and the guest's exit code. It knows nothing of namespaces or
// containers; oci/ and cmd/wasmrun decide where it runs.
package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	wsys "github.com/tetratelabs/wazero/sys"

	"github.com/wasmrun/wasmrun/wasi"
)

// Options describe one run of a module.
type Options struct {
	// Path is the module file, for messages; Wasm its bytes (read from Path
	// when nil).
	Path string
	Wasm []byte
	// Name is the guest's argv[0]; "" is the module's base name.
	Name string
	// Args are the guest's arguments after the program name.
	Args []string
	Env  []string
	// Preopens are directories the guest sees.
	Preopens []wasi.Preopen
	// Listeners are host sockets the guest gets after the preopens (see
	// wasi.Config.Listeners); the caller keeps and closes them.
	Listeners []*os.File
	// ResolvConf and Hosts replace /etc/resolv.conf and /etc/hosts for the
	// guest's sock_getaddrinfo ("" uses the host's).
	ResolvConf, Hosts string
	// Stdin, Stdout and Stderr are the guest's stdio (nil is /dev/null).
	Stdin, Stdout, Stderr *os.File
	// CacheDir holds compiled modules; "" disables the cache.
	CacheDir string
	// CacheChecked says the caller judged CacheDir with TrustCache, and
	// CacheUntrusted is its verdict ("" to use it): a container process
	// in a user namespace sees the host's owners as its overflow id and
	// cannot judge for itself.
	CacheChecked   bool
	CacheUntrusted string
	// CacheReachOpened judges each writable preopen again once opened,
	// by its descriptor (CheckCacheReachOpened, on Linux), for a caller
	// that checked the paths (CheckCacheReach) and opens them in this
	// process: a guest running elsewhere may have swapped a directory on
	// the way for a link into a cache's parent in between.
	CacheReachOpened bool
	// Diag receives warnings (unusable cache) and, when Progress is set,
	// a line about a slow first compile. nil discards them.
	Diag io.Writer
	// Progress reports a compile slower than SlowCompile on Diag: one line
	// when it ends; with Terminal (Diag is one), a line from SlowCompile
	// on, redrawn in place with the time so far (progress.go).
	Progress, Terminal bool
	// Export is the function to run; "" is _start.
	Export string
	// MemoryLimitPages caps guest memory in 64 KiB pages (0: wasm's 4 GiB).
	MemoryLimitPages uint32
	// Egress limits where the guest's sockets may connect and send.
	Egress wasi.Egress
	// Outside, when set, carries the guest's traffic out of its namespace.
	Outside *wasi.Outside
	// VirtualPorts, when set, is the app's own port space on the host's
	// network (simulated isolation).
	VirtualPorts *wasi.VirtualPorts
	// SocketEvents, when set, is told what the guest's sockets do (binds,
	// listens, connects, failed accepts, name lookups; see
	// wasi.SocketEvent). nil costs nothing.
	SocketEvents func(wasi.SocketEvent)
	// Interruptible makes the guest stop when the context passed to Run is
	// done, even in a loop that never calls the host. It costs: wazero
	// then checks for it at the head of every loop (HTTP guests run at
	// about half speed). wasmrun's own processes are stopped by signals
	// instead, so it is off unless an embedder asks.
	Interruptible bool
	// Trace, when set, receives one line per call the guest makes to the
	// wasi host module, with its arguments and errno (trace.go). nil
	// installs no listener at all.
	Trace io.Writer
	// DebugInfo adds source lines from the module's DWARF sections to trap
	// stack traces. Off by default: wazero parses DWARF when it decodes the
	// module and walks it on every exit of the guest (proc_exit unwinds
	// like a trap), which costs milliseconds per start.
	DebugInfo bool
}

// wasmMagic starts every binary module.
var wasmMagic = []byte{0x00, 'a', 's', 'm'}

// Error is a problem with the module or its setup, as opposed to the
// guest's own exit code. Its message is one line a user can act on.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func errorf(format string, args ...any) error { return &Error{Msg: fmt.Sprintf(format, args...)} }

// MaxModuleSize bounds the module files wasmrun loads: reading one takes
// its size in memory, and compiling it about 15 times that (a container's
// memory limit makes room for it, oci.compileRoom), so an image's file of
// any size must not set either.
const MaxModuleSize = 256 << 20

// Load reads a module file and checks that it is WebAssembly: a regular
// file of at most MaxModuleSize, whose header is checked before the rest
// is read.
func Load(path string) ([]byte, error) {
	b, err := load(path)
	return loaded(path, b, err)
}

// LoadFile is Load of the module open at f (named name in messages),
// which it reads from its start.
func LoadFile(f *os.File, name string) ([]byte, error) {
	b, err := loadFrom(f)
	return loaded(name, b, err)
}

// loaded is what Load returns for the module at path of what load did.
func loaded(path string, b []byte, err error) ([]byte, error) {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, errorf("module %s: no such file", path)
	case err != nil:
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, errorf("module %s: %v", path, err)
	}
	return b, nil
}

func load(path string) ([]byte, error) {
	// Non-blocking: a FIFO's open would wait for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return loadFrom(f)
}

func loadFrom(f *os.File) ([]byte, error) {
	fi, err := f.Stat()
	switch {
	case err != nil:
		return nil, err
	case fi.IsDir():
		return nil, syscall.EISDIR
	case !fi.Mode().IsRegular():
		return nil, errors.New("not a regular file")
	case fi.Size() > MaxModuleSize:
		return nil, fmt.Errorf("%d MiB, more than wasmrun loads (%d MiB)", fi.Size()>>20, MaxModuleSize>>20)
	}
	head := make([]byte, len(wasmMagic))
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, wasmMagic) {
		return nil, errors.New("not a WebAssembly binary (no \\0asm header)")
	}
	// What the file holds now, up to the size it had: no more than that
	// is ever read.
	b := make([]byte, fi.Size())
	copy(b, head)
	n, err := io.ReadFull(f, b[len(head):])
	if err != nil && err != io.ErrUnexpectedEOF {
		return nil, err
	}
	return b[:len(head)+n], nil
}

// Prepared is a compiled module ready to instantiate.
type Prepared struct {
	c    *compiled
	opts Options
	// caches are KnownCaches, for Options.CacheReachOpened.
	caches []string
	host   *wasi.Host
	mod    api.Module
}

// Prepare compiles the module (through the cache when there is one) and
// checks that it is a command wasmrun can run.
func Prepare(ctx context.Context, opts Options) (_ *Prepared, err error) {
	if opts.Wasm == nil {
		if opts.Wasm, err = Load(opts.Path); err != nil {
			return nil, err
		}
	} else if !bytes.HasPrefix(opts.Wasm, wasmMagic) {
		return nil, errorf("module %s: not a WebAssembly binary (no \\0asm header)", opts.Path)
	}
	c, err := compile(ctx, opts)
	if err != nil {
		return nil, err
	}
	if opts.Export == "" {
		opts.Export = "_start"
	}
	if _, ok := c.module.ExportedFunctions()[opts.Export]; !ok {
		c.Close(ctx)
		if opts.Export == "_start" {
			return nil, errorf("module %s: no _start export (not a WASI command module)", opts.Path)
		}
		return nil, errorf("module %s: no exported function %q", opts.Path, opts.Export)
	}
	p := &Prepared{c: c, opts: opts}
	if opts.CacheReachOpened {
		p.caches = KnownCaches(opts.CacheDir)
	}
	return p, nil
}

// Instantiate makes the wasi host module and the guest instance without
// running anything, so that Run only calls the export. Run does it when it
// has not been done.
func (p *Prepared) Instantiate(ctx context.Context) error {
	if p.mod != nil {
		return nil
	}
	host, mod, err := p.instantiate(ctx, p.opts.Env, p.opts.SocketEvents, func(*wasi.Config) {})
	if err != nil {
		return err
	}
	p.host, p.mod = host, mod
	return nil
}

// instantiate makes a wasi host module for the guest, with env and events
// and what set changes in its configuration, and a guest instance on it.
// A guest that exits or traps in its start function is a *GuestExit or a
// *TrapError.
func (p *Prepared) instantiate(ctx context.Context, env []string, events func(wasi.SocketEvent), set func(*wasi.Config)) (*wasi.Host, api.Module, error) {
	name := p.opts.Name
	if name == "" {
		name = filepath.Base(p.opts.Path)
	}
	hostCtx := ctx
	if p.opts.Trace != nil {
		// On the host module only: the guest keeps its cached code.
		hostCtx = experimental.WithFunctionListenerFactory(ctx, newTracer(p.opts.Trace))
	}
	cfg := wasi.Config{
		Args:         append([]string{name}, p.opts.Args...),
		Env:          env,
		Stdin:        p.opts.Stdin,
		Stdout:       p.opts.Stdout,
		Stderr:       p.opts.Stderr,
		Preopens:     p.opts.Preopens,
		Listeners:    p.opts.Listeners,
		ResolvConf:   p.opts.ResolvConf,
		Hosts:        p.opts.Hosts,
		Egress:       p.opts.Egress,
		Outside:      p.opts.Outside,
		VirtualPorts: p.opts.VirtualPorts,
		// What the guest's sockets do, e.g. for --verbose.
		SocketEvents: events,
	}
	if p.caches != nil && runtime.GOOS == "linux" {
		cfg.OpenedPreopen = func(pre wasi.Preopen, fd int) error {
			if pre.ReadOnly {
				return nil
			}
			return CheckCacheReachOpened(pre.HostPath, fmt.Sprintf("/proc/self/fd/%d", fd), p.caches)
		}
	}
	set(&cfg)
	host, err := wasi.Instantiate(hostCtx, p.c.runtime, p.c.module, cfg)
	if err != nil {
		return nil, nil, errorf("module %s: %v", p.opts.Path, err)
	}
	modCfg := host.ModuleConfig(wazero.NewModuleConfig().WithName("").WithStartFunctions())
	mod, err := p.c.runtime.InstantiateModule(withMappedMemory(host.Imports(ctx)), p.c.module, modCfg)
	if err != nil {
		host.Close(ctx)
		var exit *wsys.ExitError
		switch {
		case errors.As(err, &exit):
			// proc_exit in the module's start function: the guest ran
			// and exited.
			return nil, nil, &GuestExit{Code: int(exit.ExitCode())}
		case strings.HasPrefix(err.Error(), "start ") && strings.Contains(err.Error(), " failed: "):
			// wazero's words for a trap in the start function (pinned by
			// TestStartFunctionTrap): the guest ran and trapped.
			return nil, nil, &TrapError{Err: err}
		}
		return nil, nil, errorf("module %s: %v", p.opts.Path, err)
	}
	return host, mod, nil
}

// Run instantiates and runs the prepared module and returns the guest's exit
// code. A guest that traps returns TrapExitCode and a *TrapError.
func (p *Prepared) Run(ctx context.Context) (exitCode int, err error) {
	defer p.c.Close(ctx)
	if err := p.Instantiate(ctx); err != nil {
		var exit *GuestExit
		var trap *TrapError
		switch {
		case errors.As(err, &exit):
			return exit.Code, nil
		case errors.As(err, &trap):
			return TrapExitCode, err
		}
		return 0, err
	}
	defer p.host.Close(ctx)
	return call(ctx, p.mod, p.opts.Export)
}

// call runs the guest's export and returns its exit code: 0 when it
// returns, its proc_exit status, or TrapExitCode and a *TrapError.
func call(ctx context.Context, mod api.Module, export string) (int, error) {
	_, err := mod.ExportedFunction(export).Call(ctx)
	var exit *wsys.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit):
		return int(exit.ExitCode()), nil
	default:
		return TrapExitCode, &TrapError{Err: err}
	}
}

// TrapExitCode is the exit code of a guest that trapped: 128+SIGABRT, as a
// native program aborting would give.
const TrapExitCode = 134

// GuestExit is a guest that exited (proc_exit) in its start function,
// while it was being instantiated.
type GuestExit struct{ Code int }

func (e *GuestExit) Error() string { return fmt.Sprintf("guest exited with status %d", e.Code) }

// TrapError is a guest that trapped (unreachable, out-of-bounds access...).
type TrapError struct{ Err error }

func (e *TrapError) Error() string { return "guest trapped: " + e.Err.Error() }

// CompileTime is how long Prepare took to compile the module, or to read
// it from the cache.
func (p *Prepared) CompileTime() time.Duration { return p.c.elapsed }

// Close releases a prepared module that will not be run.
func (p *Prepared) Close(ctx context.Context) error {
	if p.host != nil {
		p.host.Close(ctx)
	}
	return p.c.Close(ctx)
}

// Run is Prepare then Run.
func Run(ctx context.Context, opts Options) (int, error) {
	p, err := Prepare(ctx, opts)
	if err != nil {
		return 0, err
	}
	return p.Run(ctx)
}
