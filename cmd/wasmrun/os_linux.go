package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/wasmrun/wasmrun/internal/runner"
	"github.com/wasmrun/wasmrun/oci"
)

// stateRoot is where `wasmrun os` keeps containers and bundles; WASMRUN_STATE_DIR overrides it
// (tests use private ones).
func stateRoot() string {
	if d := os.Getenv("WASMRUN_STATE_DIR"); d != "" {
		return d
	}
	if oci.Rootless() {
		return userStateRoot()
	}
	return "/run/wasmrun"
}

// osExtra is what `wasmrun ps` shows beyond the OCI state.
type osExtra struct {
	Name     string   `json:"name"`
	Forwards []string `json:"forwards,omitempty"`
	Module   string   `json:"module"`
	// Instances is how many instances of the module run (0: one).
	Instances int `json:"instances,omitempty"`
}

// spec is the app's OCI spec, with tmp as its private writable /tmp
// ("" for none). The app's root is always read-only: the app directory
// holds its configuration and module, which nothing the guest does may
// change (its next run would take them), and with a language, the
// runtime directory that every app shares. It names no seccomp
// profile: the container process's default applies
// (initproc.DefaultSeccomp).
func (a *app) spec(tmp string) *specs.Spec {
	s := &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: a.root, Readonly: true},
		Process: &specs.Process{
			Args: append([]string{"/" + filepath.ToSlash(a.module)}, a.args...), Env: a.env, Cwd: cmp.Or(a.cwd, "/"),
			User: a.user, NoNewPrivileges: true, // and no capabilities
		},
		Mounts: a.mounts,
	}
	if tmp != "" && !slices.ContainsFunc(a.mounts, func(m specs.Mount) bool { return path.Clean(m.Destination) == "/tmp" }) {
		s.Mounts = append(slices.Clone(s.Mounts), specs.Mount{Type: "bind", Source: tmp, Destination: "/tmp", Options: []string{"rbind", "rw"}})
	}
	if a.isolation && !a.simulated {
		s.Linux = &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.NetworkNamespace}}}
	}
	cgroup := ""
	if os.Geteuid() == 0 {
		cgroup = "/wasmrun/" + a.prefix + "-" + a.name
	}
	a.limits.apply(s, cgroup)
	return s
}

func runOS(o *osOpts, stdin, stdout, stderr *os.File) (int, error) {
	ctx := context.Background()
	a, err := resolveApp(o)
	if err != nil {
		return 0, err
	}
	// Catch signals before anything is made on the host (the bundle, the
	// app's /tmp mount, the container), so that none ends this process
	// with them left behind and none is lost between Create and Wait;
	// they stop the guest, and we clean up after it.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, caught(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)...)
	defer signal.Stop(sigs)
	trace, closeTrace, err := openTrace(o.trace, stderr)
	if err != nil {
		return 0, err
	}
	defer closeTrace()
	logf := func(format string, args ...any) {
		if o.verbose {
			fmt.Fprintf(stderr, "wasmrun: "+format+"\n", args...)
		}
	}
	// Without root: an unprivileged user + network namespace (oci's
	// rootless mode), or a clear refusal (rootless_linux.go).
	if a.isolation && !a.simulated && oci.Rootless() {
		if err := checkRootless(a); err != nil {
			return 0, err
		}
	}
	root := stateRoot()
	if err := ensureStateRoot(root); err != nil {
		return 0, err
	}
	net := netConfig(root)
	net.Prefix, net.Bridge.Name, net.Bridge.Subnet = a.prefix, a.bridgeName, a.subnet
	a.cni.apply(&net)
	rt := &oci.Runtime{Root: filepath.Join(root, "containers"), Network: net, Log: logf}
	if _, err := rt.GC(ctx); err != nil {
		logf("cleaning leftovers: %v", err)
	}
	// The bundles of runs that were killed before they could remove them
	// (bundle.go).
	sweepBundles(filepath.Join(root, "bundles"), rt)

	if _, err := rt.State(a.name); err == nil {
		return 0, fmt.Errorf("an app named %s is already running (see wasmrun ps)", a.name)
	}
	bundle := filepath.Join(root, "bundles", a.name)
	release, err := claimBundle(bundle, a.name)
	if err != nil {
		return 0, err
	}
	defer release()
	tmp, limited, err := appTmp(bundle, a.user, a.limits.tmpSize())
	if err != nil {
		return 0, err
	}
	// By what this run made, not only through the bundle's link: a bundle
	// removed from under it would leave the mount on the host.
	defer removeAppTmp(tmp)
	if limited {
		logf("app %s's /tmp is a tmpfs of at most %d MiB (memory; [limits] tmp or --tmp)", a.name, a.limits.tmpSize()>>20)
	} else {
		logf("app %s's /tmp is a directory of the host's %s, not limited in size without root", a.name, filepath.Dir(tmp))
	}
	logf("app %s runs as uid %d gid %d (%s), with no capabilities", a.name, a.user.UID, a.user.GID, a.userWhy)
	if err := writeBundle(bundle, a.spec(tmp)); err != nil {
		return 0, err
	}

	extra := osExtra{Name: a.name, Module: filepath.Join(a.root, a.module)}
	for _, f := range a.forwards {
		extra.Forwards = append(extra.Forwards, f.String())
	}
	if a.instances > 1 {
		extra.Instances = a.instances
	}
	opts := oci.CreateOpts{
		Stdin: stdin, Stdout: stdout, Stderr: stderr,
		Network: oci.NetworkOpts{Outbound: a.outbound, Bridge: a.bridge, Forwards: a.forwards, NoLoopback: !a.loopback,
			ResolvConf: a.resolvConf, Hosts: a.hosts, Simulated: a.simulated},
		Listen: a.listens,
		Egress: a.egress,
		Extra:  extra,
		// The guest's share of --memory; the cgroup has room for the
		// runtime too.
		GuestMemory: a.limits.guestMemory(),
		Trace:       trace,
		Progress:    true,
	}
	opts.Verbose = o.verbose // the guest's socket events too
	if a.instances > 1 {
		opts.Instances = a.instances
		logf("app %s runs %d instances of its module (%s), sharing its compiled code; the ports they bind get SO_REUSEPORT, so connections are spread over them",
			a.name, a.instances, cmp.Or(a.instancesWhy, "as asked"))
	}
	if !o.noCache {
		opts.CacheDir = o.cacheDir
		if opts.CacheDir == "" {
			opts.CacheDir = runner.DefaultCacheDir()
		}
	}

	// A signal stops the app at any moment, also while it is being
	// created (a long first compile, a start function that never
	// returns): then the status is the signal's, 128+N.
	createCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var c *oci.Container
	created := make(chan struct{})
	go func() {
		c, err = rt.Create(createCtx, a.name, bundle, opts)
		close(created)
	}()
	var early os.Signal
	select {
	case <-created:
	case early = <-sigs:
		logf("got %v while app %s is being created: stopping it", early, a.name)
		cancel()
		<-created
	}
	var gone *oci.GuestExitError
	switch {
	case errors.As(err, &gone):
		// The guest ran, in its start function, and ended there.
		if gone.Code == runner.TrapExitCode {
			fmt.Fprintf(stderr, "wasmrun: %v\n", gone.Msg)
		}
		return gone.Code, nil
	case err != nil && early == nil:
		// A Ctrl-C also reaches the container process: if it ended the
		// create first, the signal is on its way to us.
		select {
		case early = <-sigs:
		case <-time.After(50 * time.Millisecond):
		}
	}
	switch {
	case err != nil && early != nil:
		return 128 + int(early.(syscall.Signal)), nil
	case err != nil:
		return 0, explainCreate(a, rootlessError(err))
	case early != nil:
		sigs <- early // created after all: stop it the usual way
	}
	defer func() {
		if err := rt.Delete(context.WithoutCancel(ctx), a.name, true); err != nil {
			fmt.Fprintf(stderr, "wasmrun: cleaning up %s: %v\n", a.name, err)
		}
	}()
	if err := rt.Start(ctx, a.name); err != nil {
		// Stopped (wasmrun stop) before it started: its status is ours.
		select {
		case <-c.Done():
			code, _ := c.Wait(ctx)
			logf("app %s exited with status %d before it started", a.name, code)
			return code, nil
		case <-time.After(time.Second):
		}
		return 0, err
	}
	logf("app %s running as pid %d", a.name, c.Pid)

	signals := 0
	for {
		select {
		case <-c.Done():
			code, _ := c.Wait(ctx)
			logf("app %s exited with status %d", a.name, code)
			if code == 128+int(syscall.SIGKILL) && signals < 2 {
				if killed, _ := rt.OOMKilled(a.name); killed {
					fmt.Fprintf(stderr, "wasmrun: app %s was killed by the kernel's OOM killer: it used all the memory its cgroup allows (%s)\n",
						a.name, a.limits.memoryWhy())
				}
			}
			return code, nil
		case s := <-sigs:
			// The app gets the signal itself (Ctrl-C ends it with 130,
			// SIGTERM with 143, as a native program); a second one kills.
			signals++
			sig := s.(syscall.Signal)
			if signals > 1 {
				sig = syscall.SIGKILL
			}
			logf("got %v: sending %v to app %s", s, sig, a.name)
			rt.Kill(a.name, sig)
		}
	}
}
