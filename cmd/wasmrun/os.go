//go:build linux || darwin || windows

package main

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/wasmrun/wasmrun/oci"
)

// osOpts are the parsed flags of `wasmrun os`.
type osOpts struct {
	app      string
	args     []string
	env      []string
	dirs     []string
	forwards []string
	config   string
	name     string
	verbose  bool
	cacheDir string
	noCache  bool
	help     bool
	// language and runtimeDir pick an interpreter for a source app.
	language   string
	runtimeDir string

	// allow and deny are egress entries added to the config's.
	allow, deny []string
	noOutbound  bool
	limits      limits
	// listens, resolvConf and hosts are as run's (flags.go); cniPath
	// are the --cni-path values (osnet.go).
	listens           []string
	resolvConf, hosts string
	cniPath           []string
	trace             string        // --trace[=FILE] (trace.go)
	instances         instanceCount // --instances (instances.go)
}

func parseOS(args []string) (*osOpts, error) {
	o := &osOpts{}
	err := parseFlags(args, &o.app, &o.args, map[string]flagSpec{
		"forward":     {value: true, set: func(v string) error { o.forwards = append(o.forwards, v); return nil }},
		"p":           {value: true, set: func(v string) error { o.forwards = append(o.forwards, v); return nil }},
		"dir":         {value: true, set: func(v string) error { o.dirs = append(o.dirs, v); return nil }},
		"env":         {value: true, set: func(v string) error { o.env = append(o.env, v); return nil }},
		"e":           {value: true, set: func(v string) error { o.env = append(o.env, v); return nil }},
		"allow":       {value: true, set: func(v string) error { o.allow = append(o.allow, v); return nil }},
		"deny":        {value: true, set: func(v string) error { o.deny = append(o.deny, v); return nil }},
		"config":      {value: true, set: func(v string) error { o.config = v; return nil }},
		"name":        {value: true, set: func(v string) error { o.name = v; return nil }},
		"cache-dir":   {value: true, set: func(v string) error { o.cacheDir = v; return nil }},
		"no-cache":    {set: func(string) error { o.noCache = true; return nil }},
		"no-outbound": {set: func(string) error { o.noOutbound = true; return nil }},
		"memory":      {value: true, set: func(v string) error { return o.limits.flag("memory", v) }},
		"m":           {value: true, set: func(v string) error { return o.limits.flag("memory", v) }},
		"cpus":        {value: true, set: func(v string) error { return o.limits.flag("cpus", v) }},
		"max-fds":     {value: true, set: func(v string) error { return o.limits.flag("max-fds", v) }},
		"tmp":         {value: true, set: func(v string) error { return o.limits.flag("tmp", v) }},
		"verbose":     {set: func(string) error { o.verbose = true; return nil }},
		"v":           {set: func(string) error { o.verbose = true; return nil }},
		"language":    {value: true, set: func(v string) error { o.language = v; return nil }},
		"runtime-dir": {value: true, set: func(v string) error { o.runtimeDir = v; return nil }},
		"trace":       {optional: true, set: func(v string) error { o.trace = cmp.Or(v, traceStderr); return nil }},
		"help":        {set: func(string) error { o.help = true; return nil }},
		"h":           {set: func(string) error { o.help = true; return nil }},
		"listen":      {value: true, set: func(v string) error { return addListen(&o.listens, v) }},
		"resolv-conf": {value: true, set: func(v string) (err error) { o.resolvConf, err = resolverFile("resolv-conf", v); return err }},
		"hosts":       {value: true, set: func(v string) (err error) { o.hosts, err = resolverFile("hosts", v); return err }},
		"cni-path":    {value: true, set: func(v string) error { o.cniPath = append(o.cniPath, v); return nil }},
		"instances": {value: true, set: func(v string) (err error) {
			if o.instances, err = parseInstances(v); err != nil {
				return fmt.Errorf("--instances %v", err)
			}
			return nil
		}},
	})
	if err != nil || o.help {
		return o, err
	}
	if o.app == "" {
		return nil, errors.New("missing APP (usage: wasmrun os [flags] APP [-- ARGS...])")
	}
	return o, nil
}

func osCmd(args []string, stdin, stdout, stderr *os.File) int {
	o, err := parseOS(args)
	if err != nil {
		fmt.Fprintf(stderr, "wasmrun os: %v\n", err)
		return ExitFailure
	}
	if o.help {
		fmt.Fprint(stdout, usage)
		return 0
	}
	code, err := runOS(o, stdin, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "wasmrun: %v\n", err)
		return ExitFailure
	}
	return code
}

// app is an `wasmrun os` run after flags and config are merged.
type app struct {
	root, module string // host root dir, module path relative to it
	cwd          string // "" = "/"
	args, env    []string
	mounts       []specs.Mount
	isolation    bool
	simulated    bool // isolation = "simulated": no namespace (cni.NetSimulated)
	egress       oci.Egress
	loopback     bool
	bridge       bool
	outbound     bool
	bridgeName   string // "" = cni default
	subnet       string // "" = cni default
	prefix       string
	forwards     []oci.Forward
	forwardNames map[oci.Forward]string // each as the user gave it (osnet.go)
	listens      []string
	cni          cniPath
	resolvConf   string // --resolv-conf, --hosts ("" = the namespace's)
	hosts        string
	name         string
	limits       limits
	appDir       string     // the app's own directory
	user         specs.User // who it runs as (user.go)
	userWhy      string
	userKey      bool   // user is the config's user key
	instances    int    // how many instances of the module run
	instancesWhy string // what "auto" found, for --verbose
}

func resolveApp(o *osOpts) (*app, error) {
	st, err := os.Stat(o.app)
	if err != nil {
		return nil, fmt.Errorf("app %s: %v", o.app, unwrapPath(err))
	}
	dir := o.app
	if !st.IsDir() {
		dir = filepath.Dir(o.app)
	}
	cfgPath, required := filepath.Join(dir, ConfigName), false
	if o.config != "" {
		cfgPath, required = o.config, true
	}
	cfg, err := loadConfig(cfgPath, required)
	if err != nil {
		return nil, err
	}
	lang := o.language
	if lang == "" {
		lang = cfg.Language
	}
	interp, err := planLaunch(o.app, lang, cfg.Entry, runtimeDir(o.runtimeDir, cfg.RuntimeDir), nil)
	if err != nil {
		return nil, err
	}
	var mod string
	if interp == nil {
		if mod, err = findModule(o.app, cfg.Module); err != nil {
			return nil, err
		}
	}
	a := &app{isolation: true, prefix: oci.DefaultPrefix, bridge: cfg.Network.Bridge,
		bridgeName: cfg.Network.BridgeName, subnet: cfg.Network.Subnet}
	if a.root, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	a.appDir = a.root
	if interp != nil {
		a.root, a.module, a.cwd = interp.root, interp.module, interp.cwd
		a.mounts = interp.mounts
		a.args = interp.args
		a.env = interp.env
	} else {
		absMod, err := filepath.Abs(mod)
		if err != nil {
			return nil, err
		}
		if a.module, err = filepath.Rel(a.root, absMod); err != nil || strings.HasPrefix(a.module, "..") {
			return nil, fmt.Errorf("app %s: module %s is outside the app directory", o.app, mod)
		}
	}
	if i := cfg.Network.Isolation; i != nil {
		a.isolation, a.simulated = *i != isolationHost, *i == isolationSimulated
	}
	if cfg.Network.NamespacePrefix != "" {
		a.prefix = cfg.Network.NamespacePrefix
	}
	a.outbound = !o.noOutbound && (cfg.Network.Outbound == nil || *cfg.Network.Outbound)
	a.loopback = true
	if cfg.Network.LoopbackEnabled != nil {
		a.loopback = *cfg.Network.LoopbackEnabled
	}
	a.args = append(append(a.args, cfg.Args...), o.args...)
	keys := make([]string, 0, len(cfg.Env))
	for k := range cfg.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a.env = append(a.env, k+"="+cfg.Env[k])
	}
	for _, e := range o.env {
		kv, err := parseEnv(e)
		if err != nil {
			return nil, err
		}
		a.env = append(a.env, kv)
	}
	for _, d := range append(append([]string{}, cfg.Dirs...), o.dirs...) {
		p, err := parseDir(d)
		if err != nil {
			return nil, err
		}
		host, _ := filepath.Abs(p.HostPath)
		mode := "rw"
		if p.ReadOnly {
			mode = "ro"
		}
		a.mounts = append(a.mounts, specs.Mount{Type: "bind", Source: host, Destination: p.GuestPath, Options: []string{"rbind", mode}})
	}
	a.forwards = cfg.Network.forwards // parsed by loadConfig
	a.forwardNames = map[oci.Forward]string{}
	for i, f := range cfg.Network.Forward {
		a.forwardNames[a.forwards[i]] = fmt.Sprintf("network.forward %q in %s", f, cfgPath)
	}
	for _, f := range o.forwards {
		fw, err := parseForwardAs("--forward "+f, f)
		if err != nil {
			return nil, err
		}
		a.forwards = append(a.forwards, fw)
		a.forwardNames[fw] = "--forward " + f
	}
	a.listens, a.resolvConf, a.hosts = o.listens, o.resolvConf, o.hosts
	if a.cni, err = resolveCNIPath(o.cniPath, cfg.Network.CNIPath, cfgPath); err != nil {
		return nil, err
	}
	if a.egress, err = egressPolicy(&cfg.Network, o.allow, o.deny); err != nil {
		return nil, err
	}
	if len(a.forwards) > 0 && !a.isolation {
		return nil, errors.New("--forward needs network isolation, but the config sets isolation = false (the guest already uses the host network)")
	}
	if a.simulated && len(a.listens) > 0 {
		return nil, errors.New(`--listen needs a network namespace, but the config sets isolation = "simulated" (the socket would be the host's own port, open to the network: let the guest bind it, and --forward)`)
	}
	if a.simulated && a.bridge {
		return nil, errors.New(`bridge = true needs a network namespace, but the config sets isolation = "simulated"`)
	}
	a.name = o.name
	if a.name == "" {
		a.name = cfg.Name
	}
	if a.name == "" {
		var b [4]byte
		rand.Read(b[:])
		a.name = hex.EncodeToString(b[:])
	}
	if err := oci.ValidateID(a.name); err != nil {
		return nil, fmt.Errorf("--name: %v", err)
	}
	a.limits = cfg.Limits.merge(o.limits)
	if a.limits.CPUs > 0 && os.Geteuid() != 0 {
		return nil, errors.New("--cpus needs root (a cgroup); without root, --memory caps the guest's memory and --max-fds its descriptors")
	}
	if a.user, a.userWhy, err = appUser(a, cfg.User); err != nil {
		return nil, err
	}
	a.userKey = cfg.User != ""
	n := cfg.Instances
	if o.instances != (instanceCount{}) {
		n = o.instances
	}
	a.instances, a.instancesWhy = n.count(a.limits.CPUs)
	if n.auto && a.simulated {
		a.instances, a.instancesWhy = 1, "simulated isolation: one instance"
	}
	if a.instances > 1 && a.simulated {
		return nil, errors.New(`--instances needs a network namespace, but the config sets isolation = "simulated" (the instances' shared ports would be host ports any process of the app's user could join)`)
	}
	if a.instances > 1 && !a.isolation {
		// Instances bind with SO_REUSEPORT, which on the host network
		// would let them share a port with any process of their user
		// that sets it too, and take a part of its connections.
		return nil, errors.New("--instances needs network isolation, but the config sets isolation = false (on the host network, the instances' shared ports could be joined by any process of the app's user)")
	}
	return a, nil
}
