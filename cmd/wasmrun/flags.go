package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/wasmrun/wasmrun/wasi"
)

// runOpts are the parsed flags of `wasmrun run`.
type runOpts struct {
	limits   limits
	module   string
	args     []string
	env      []string
	dirs     []wasi.Preopen
	cacheDir string
	noCache  bool
	help     bool

	// listens are the --listen addresses (HOST:PORT); resolvConf and
	// hosts are --resolv-conf and --hosts.
	listens           []string
	resolvConf, hosts string
	// verbose is --verbose: the guest's socket events on stderr.
	verbose bool
	// trace is --trace[=FILE]: "" none, "-" stderr (trace.go).
	trace string
}

// parseRun parses flags before or after MODULE. Everything after "--" and
// any positional argument after MODULE goes to the guest.
func parseRun(args []string) (*runOpts, error) {
	o := &runOpts{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			if o.module == "" {
				if i+1 >= len(args) {
					return nil, errors.New("missing MODULE")
				}
				o.module = args[i+1]
				i++
			}
			o.args = append(o.args, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			if o.module == "" {
				o.module = a
			} else {
				o.args = append(o.args, a)
			}
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		takeValue := func() (string, error) {
			if hasValue {
				return value, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("flag --%s needs a value", name)
			}
			i++
			return args[i], nil
		}
		switch name {
		case "dir":
			v, err := takeValue()
			if err != nil {
				return nil, err
			}
			p, err := parseDir(v)
			if err != nil {
				return nil, err
			}
			o.dirs = append(o.dirs, p)
		case "env", "e":
			v, err := takeValue()
			if err != nil {
				return nil, err
			}
			kv, err := parseEnv(v)
			if err != nil {
				return nil, err
			}
			o.env = append(o.env, kv)
		case "listen":
			v, err := takeValue()
			if err != nil {
				return nil, err
			}
			if err := addListen(&o.listens, v); err != nil {
				return nil, err
			}
		case "resolv-conf", "hosts":
			v, err := takeValue()
			if err != nil {
				return nil, err
			}
			if v, err = resolverFile(name, v); err != nil {
				return nil, err
			}
			if name == "hosts" {
				o.hosts = v
			} else {
				o.resolvConf = v
			}
		case "memory", "m", "max-fds", "cpus":
			v, err := takeValue()
			if err != nil {
				return nil, err
			}
			if err := o.limits.flag(name, v); err != nil {
				return nil, err
			}
		case "cache-dir":
			v, err := takeValue()
			if err != nil {
				return nil, err
			}
			o.cacheDir = v
		case "no-cache":
			o.noCache = true
			if hasValue {
				b, err := strconv.ParseBool(value)
				if err != nil {
					return nil, fmt.Errorf("--no-cache=%s: want true or false", value)
				}
				o.noCache = b
			}
		case "trace":
			o.trace = traceStderr
			if hasValue && value != "" {
				o.trace = value
			}
		case "verbose", "v":
			o.verbose = true
		case "h", "help":
			o.help = true
			return o, nil
		default:
			return nil, fmt.Errorf("unknown flag %s (guest arguments go after --)", a)
		}
	}
	if o.module == "" {
		return nil, errors.New("missing MODULE (usage: wasmrun run [flags] MODULE [-- ARGS...])")
	}
	return o, nil
}

// parseDir parses HOST[:GUEST] and checks that HOST is a directory.
func parseDir(v string) (wasi.Preopen, error) {
	spec, readOnly := v, false
	for _, mode := range []string{":ro", ":rw"} {
		if s, ok := strings.CutSuffix(v, mode); ok && s != "" {
			spec, readOnly = s, mode == ":ro"
			break
		}
	}
	// A Windows host path starts with a volume ("C:"), whose colon is not
	// the separator; the guest path defaults to the rest, with slashes.
	vol := filepath.VolumeName(spec) // always "" on Linux and macOS
	host, guest, ok := strings.Cut(spec[len(vol):], ":")
	if !ok {
		guest = filepath.ToSlash(host)
	}
	host = vol + host
	if host == "" || guest == "" || strings.Contains(guest, ":") {
		return wasi.Preopen{}, fmt.Errorf("--dir %q: want HOST[:GUEST][:ro|:rw]", v)
	}
	st, err := os.Stat(host)
	if err != nil {
		return wasi.Preopen{}, fmt.Errorf("--dir %s: %v", host, errors.Unwrap(err))
	}
	if !st.IsDir() {
		return wasi.Preopen{}, fmt.Errorf("--dir %s: not a directory", host)
	}
	return wasi.Preopen{HostPath: host, GuestPath: guest, ReadOnly: readOnly}, nil
}

// parseEnv accepts KEY=VALUE, or KEY alone for the host's value.
func parseEnv(v string) (string, error) {
	key, _, hasValue := strings.Cut(v, "=")
	if key == "" {
		return "", fmt.Errorf("--env %q: want KEY=VALUE", v)
	}
	if !hasValue {
		val, ok := os.LookupEnv(key)
		if !ok {
			return "", fmt.Errorf("--env %s: not set on the host (use %s=VALUE)", key, key)
		}
		return key + "=" + val, nil
	}
	return v, nil
}

// parseListen parses [HOST:]PORT for --listen; HOST defaults to 0.0.0.0
// (every IPv4 address, as wasmtime's --tcplisten).
func parseListen(v string) (string, error) {
	host, port := "0.0.0.0", v
	if strings.Contains(v, ":") {
		h, p, err := net.SplitHostPort(v)
		if err != nil {
			return "", fmt.Errorf("--listen %q: want [HOST:]PORT", v)
		}
		if h != "" {
			host = h
		}
		port = p
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("--listen %q: %q is not a port number", v, port)
	}
	return net.JoinHostPort(host, port), nil
}

// resolverFile checks the file of --resolv-conf or --hosts (flag) and
// returns its absolute path.
func resolverFile(flag, v string) (string, error) {
	st, err := os.Stat(v)
	if err != nil {
		return "", fmt.Errorf("--%s %s: %v", flag, v, unwrapPath(err))
	}
	if st.IsDir() {
		return "", fmt.Errorf("--%s %s: is a directory, not a file", flag, v)
	}
	return filepath.Abs(v)
}

// addListen parses a --listen value and adds it to addrs, refusing one
// that takes a port another already has.
func addListen(addrs *[]string, v string) error {
	addr, err := parseListen(v)
	if err != nil {
		return err
	}
	*addrs = append(*addrs, addr)
	return listensOverlap(*addrs)
}

// listensOverlap returns an error when two --listen addresses (as
// parseListen returns them) would take the same port: the same port on
// the same host, or on any host where either is every address.
func listensOverlap(addrs []string) error {
	for i, a := range addrs {
		ha, pa, _ := net.SplitHostPort(a)
		for _, b := range addrs[:i] {
			hb, pb, _ := net.SplitHostPort(b)
			if pa == pb && pa != "0" && (ha == hb || ha == "0.0.0.0" || hb == "0.0.0.0" || ha == "::" || hb == "::") {
				return fmt.Errorf("--listen %s and --listen %s both take port %s", b, a, pa)
			}
		}
	}
	return nil
}

// flagSpec is one flag of a subcommand.
type flagSpec struct {
	value bool
	// optional: the flag takes a value only as --flag=VALUE.
	optional bool
	set      func(string) error
}

// parseFlags parses flags before or after the one positional argument;
// other positionals and everything after "--" are guest arguments.
func parseFlags(args []string, positional *string, rest *[]string, flags map[string]flagSpec) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			tail := args[i+1:]
			if *positional == "" && len(tail) > 0 {
				*positional, tail = tail[0], tail[1:]
			}
			*rest = append(*rest, tail...)
			return nil
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			if *positional == "" {
				*positional = a
			} else {
				*rest = append(*rest, a)
			}
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f, ok := flags[name]
		if !ok {
			return fmt.Errorf("unknown flag %s (guest arguments go after --)", a)
		}
		if f.value && !hasValue {
			if i+1 >= len(args) {
				return fmt.Errorf("flag --%s needs a value", name)
			}
			i++
			value = args[i]
		} else if !f.value && !f.optional && hasValue {
			return fmt.Errorf("flag --%s takes no value", name)
		}
		if err := f.set(value); err != nil {
			return err
		}
	}
	return nil
}

// stopCmdWith is `wasmrun stop`: it parses args and stops each app with
// stop, printing its id, or one line for its error; the status is
// ExitFailure if any failed.
func stopCmdWith(args []string, stdout, stderr *os.File, stop func(id string, grace time.Duration) error) int {
	ids, grace, err := parseStop(args)
	if err != nil {
		fmt.Fprintf(stderr, "wasmrun stop: %v\n", err)
		return ExitFailure
	}
	code := 0
	for _, id := range ids {
		if err := stop(id, grace); err != nil {
			fmt.Fprintf(stderr, "wasmrun stop: %v\n", err)
			code = ExitFailure
			continue
		}
		fmt.Fprintln(stdout, id)
	}
	return code
}

// parseStop parses the flags of `wasmrun stop`: the ids and the grace
// period before SIGKILL (--time, default 10s).
func parseStop(args []string) (ids []string, grace time.Duration, err error) {
	grace = 10 * time.Second
	var positional string
	err = parseFlags(args, &positional, &ids, map[string]flagSpec{
		"time": {value: true, set: func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("--time %q: %v", v, err)
			}
			grace = d
			return nil
		}},
	})
	if positional != "" {
		ids = append([]string{positional}, ids...)
	}
	if err == nil && len(ids) == 0 {
		err = fmt.Errorf("missing ID (usage: wasmrun stop [--time 10s] ID...)")
	}
	return ids, grace, err
}
