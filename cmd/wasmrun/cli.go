package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/wasmrun/wasmrun/internal/runner"
	"github.com/wasmrun/wasmrun/internal/version"
	"github.com/wasmrun/wasmrun/wasi"
)

// ExitFailure is wasmrun's own failure, distinct from any exit code a guest
// is likely to choose (as docker and podman use 125).
const ExitFailure = 125

const usage = `Usage:
  wasmrun run [flags] MODULE [-- ARGS...]   run a WASI module in this network namespace
  wasmrun os [flags] APP [-- ARGS...]       run an app isolated in its own network namespace
  wasmrun ps                                list running apps
  wasmrun stop [--time 10s] ID...           stop apps (SIGTERM, then SIGKILL)
  wasmrun runtimes [--runtime-dir DIR]      list the language runtimes installed
  wasmrun compile [--cache-dir DIR] MODULE...
                                            compile modules into the cache ahead
                                            of their first run
  wasmrun version                           print the version
  wasmrun help                              show this help

Flags of run (before or after MODULE):
  --dir HOST[:GUEST][:ro]
                       preopen a host directory (repeatable; GUEST defaults to
                       HOST; :ro makes it read-only)
  --env KEY=VALUE      set a guest environment variable (repeatable; KEY alone
                       passes the host's value)
  --cache-dir DIR      compiled-module cache (default $WASMRUN_CACHE_DIR or
                       the user cache dir)
  --no-cache           compile every time
  --listen [HOST:]PORT give the guest a TCP socket listening on HOST:PORT
                       (repeatable; HOST defaults to 0.0.0.0), at fd 3 onward
                       after the --dir preopens
  --resolv-conf FILE   nameservers for the guest's sock_getaddrinfo
                       (default /etc/resolv.conf)
  --hosts FILE         hosts file for sock_getaddrinfo, looked up first
  --memory SIZE        cap the guest's memory (256m, 1g; alias -m)
  --cpus N             CPU time as a number of CPUs (0.5; root: a cgroup)
  --max-fds N          cap the open descriptors (RLIMIT_NOFILE)
  --verbose            print what the guest's sockets do: each bind, listen and
                       connect and how it ended, failed accepts, getaddrinfo
                       (wasmrun: guest: bind 0.0.0.0:3000: EADDRINUSE), and
                       how long the compile (or the cache read) took
  --trace[=FILE]       print every WASI call the guest makes, its arguments
                       and errno, to stderr or FILE (created or truncated);
                       the compiled-module cache is used as without it

Flags of os (before or after APP; also --dir, --env, --cache-dir, --no-cache,
--trace[=FILE]):
  --forward [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]
                       forward a host port into the app (repeatable; alias -p)
  --listen [HOST:]PORT a listening TCP socket made in the app's namespace
                       (below 1024 too), after the app's preopens (its /
                       and /tmp: fd 5 without --dir); --resolv-conf FILE
                       and --hosts FILE as for run
  --cni-path DIR[:DIR...]
                       where the CNI plugins are (repeatable; default
                       $CNI_PATH, else cni_path in [network], else
                       /opt/cni/bin:/usr/lib/cni)
  --allow ENTRY        add to the egress allow list (repeatable): a CIDR, an
                       address, or a host name with an optional :PORT and
                       leading *. (api.example.com:443, *.internal)
  --deny ENTRY         add to the egress deny list (repeatable; names take no
                       port)
  --cpus N             CPU time as a number of CPUs (0.5), through a cgroup
                       (also --memory, which then caps the process too, and
                       --max-fds; [limits] in .wasmrun.toml)
  --tmp SIZE           the size of the app's private /tmp (default 256m), as
                       root a tmpfs (memory) mounted for the app's life, of
                       at most one file per 8 KiB of it
  --instances N|auto   run N instances of the module (1 to 256; auto: one per
                       CPU the app may use), each with its own memory, all
                       serving the app's ports (instances in .wasmrun.toml);
                       one that ends is started again while another runs
  --no-outbound        the app reaches nothing outside its namespace and
                       resolves no names through the host (outbound = false)
  --config FILE        configuration instead of APP/.wasmrun.toml
  --name NAME          the app's id (default: random)
  --verbose            print each step (namespace, addresses, rules, module, exit)
                       and what the guest's sockets do, as run --verbose
  --language nodejs|python
                       run APP's source on that language's runtime (default:
                       detected; the entry from package.json "main", else
                       index.js/server.js/app.js/main.js, main.py/app.py/__main__.py)
  --runtime-dir DIR    where runtimes are (default $WASMRUN_RUNTIME_DIR, else
                       runtimes/ next to wasmrun; build them: make runtimes)

A compile that takes over a second (a module's first start) says so on stderr:
on a terminal, a progress line while it lasts, then one line when it is done.

Exit status: the guest's exit code (128+N when signal N ended it); 125 when
wasmrun fails before the guest runs; 134 when the guest traps.
`

// run is main without os.Exit, for tests.
func run(args []string, stdin, stdout, stderr *os.File) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitFailure
	}
	switch args[0] {
	case "run":
		return runCmd(args[1:], stdin, stdout, stderr)
	case "os":
		return osCmd(args[1:], stdin, stdout, stderr)
	case "ps":
		return psCmd(args[1:], stdout, stderr)
	case "stop":
		return stopCmd(args[1:], stdout, stderr)
	case "runtimes":
		return runtimesCmd(args[1:], stdout, stderr)
	case "compile":
		return compileCmd(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "wasmrun %s\n", version.Version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "wasmrun: unknown command %q (try: wasmrun help)\n", args[0])
	return ExitFailure
}

func runCmd(args []string, stdin, stdout, stderr *os.File) int {
	o, err := parseRun(args)
	if err != nil {
		fmt.Fprintf(stderr, "wasmrun run: %v\n", err)
		return ExitFailure
	}
	if o.help {
		fmt.Fprint(stdout, usage)
		return 0
	}
	opts := runner.Options{
		Path:     o.module,
		Args:     o.args,
		Env:      o.env,
		Preopens: o.dirs,
		Stdin:    stdin,
		Stdout:   stdout,
		Stderr:   stderr,
		Diag:     stderr,
		Progress: true,
		Terminal: isTerminal(stderr),
	}
	trace, closeTrace, err := openTrace(o.trace, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "wasmrun run: %v\n", err)
		return ExitFailure
	}
	defer closeTrace()
	if trace != nil {
		opts.Trace = trace
	}
	if o.verbose {
		opts.SocketEvents = printSocketEvents(stderr)
	}
	listeners, err := openListeners(o.listens)
	if err != nil {
		fmt.Fprintf(stderr, "wasmrun run: %v\n", err)
		return ExitFailure
	}
	defer closeFiles(listeners)
	opts.Listeners = listeners
	opts.ResolvConf, opts.Hosts = o.resolvConf, o.hosts
	if o.limits.memory > 0 {
		opts.MemoryLimitPages = uint32(min(o.limits.memory/65536, 65536))
	}
	if err := o.limits.enterable(); err != nil {
		fmt.Fprintf(stderr, "wasmrun run: %v\n", err)
		return ExitFailure
	}
	if n := o.limits.MaxFDs; n > 0 {
		if err := setMaxFDs(n); err != nil {
			fmt.Fprintf(stderr, "wasmrun run: --max-fds %d: %v\n", n, err)
			return ExitFailure
		}
	}
	if !o.noCache {
		opts.CacheDir = o.cacheDir
		if opts.CacheDir == "" {
			opts.CacheDir = runner.DefaultCacheDir()
		}
	}
	if err := runner.CheckCacheReach(opts.Preopens, opts.CacheDir); err != nil {
		fmt.Fprintf(stderr, "wasmrun run: %v\n", err)
		return ExitFailure
	}
	opts.CacheReachOpened = true
	ctx := context.Background()
	p, err := runner.Prepare(ctx, opts)
	code := 0
	if err == nil {
		// Into the cgroup of --memory and --cpus once the module is
		// compiled or loaded, before any of the guest's code runs:
		// compiling is the runtime's work, which takes many times the
		// module's size for a while (under `os`, the container's cgroup
		// has room for it instead).
		leave, lerr := o.limits.enter()
		if lerr != nil {
			fmt.Fprintf(stderr, "wasmrun run: %v\n", lerr)
			return ExitFailure
		}
		defer leave()
		if o.verbose {
			fmt.Fprintf(stderr, "wasmrun: module %s compiled or read from the cache in %s\n", o.module, p.CompileTime().Round(time.Millisecond))
		}
		code, err = p.Run(ctx)
	}
	if err != nil {
		fmt.Fprintf(stderr, "wasmrun: %v\n", err)
		var trap *runner.TrapError
		if errors.As(err, &trap) {
			return code
		}
		return ExitFailure
	}
	return code
}

func isTerminal(f io.Writer) bool {
	if f, ok := f.(*os.File); ok {
		return term.IsTerminal(int(f.Fd()))
	}
	return false
}

// printSocketEvents prints the guest's socket events on w, for --verbose.
func printSocketEvents(w io.Writer) func(wasi.SocketEvent) {
	return func(e wasi.SocketEvent) { fmt.Fprintf(w, "wasmrun: guest: %s\n", e) }
}
