package cni

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/wasmrun/wasmrun/cni/procnet"
)

// Plan decides, once, how a container gets its network, and checks that
// what is asked is possible (forwards, the configuration, user namespaces
// without root) before anything is created. It changes nothing on the
// system: Prepare does.
//
//   - o.Simulated: no namespace, a port space of the app's own (NetSimulated);
//   - t.Host: the host network (forwards refused);
//   - t.Join: join that namespace (forwards refused);
//   - without root: a rootless user + network namespace (NetRootless);
//   - else a namespace of ours: NetOwn, or NetOwnUserspace when the forwards
//     need portmap and the CNI plugins are not installed.
func Plan(cfg Config, t Target, o Options) (Network, error) {
	logf := cfg.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if o.Simulated {
		return planSimulated(cfg, t, o, logf)
	}
	if t.Host || t.Join != "" {
		if len(o.Forwards) > 0 {
			return nil, errors.New("forwards need a network namespace of the container's own, but the spec gives it the host's or joins one")
		}
		if t.Host {
			return &hostNet{}, nil
		}
		if err := ns.IsNSorErr(t.Join); err != nil {
			return nil, fmt.Errorf("join namespace %s: %w", t.Join, err)
		}
		return &hostNet{join: t.Join}, nil
	}
	if err := ValidateForwards(o.Forwards); err != nil {
		return nil, err
	}
	if Rootless() {
		return planRootless(o, logf)
	}
	m, err := New(cfg)
	if err != nil {
		return nil, err
	}
	n := &ownNet{m: m, id: t.ID, opts: o, log: logf, mode: NetOwn, why: "IPv6 host addresses, which portmap cannot send into the namespace"}
	// Forwards on IPv6 host addresses go through the userspace forwarder:
	// portmap cannot send them into the namespace's IPv4 address. Without
	// a bridge asked for, a missing set of CNI plugins sends them all
	// there.
	var kernel []Forward
	for _, f := range o.Forwards {
		if f.IPv6Host() {
			n.user = append(n.user, f)
		} else {
			kernel = append(kernel, f)
		}
	}
	if len(kernel) > 0 && !o.Bridge {
		if err := m.CheckPlugins(true); err != nil {
			logf("%v: forwarding with the userspace forwarder instead of CNI portmap", err)
			n.user, kernel, n.mode, n.why = o.Forwards, nil, NetOwnUserspace, "CNI plugins not installed"
		}
	}
	if len(kernel) == 0 && len(n.user) > 0 && !o.Bridge {
		n.mode = NetOwnUserspace
	}
	n.opts.Forwards = kernel
	return n, nil
}

// Release removes the network described by rec from a process that did
// not create it (the creator died, or a shim's delete action): the
// namespace of ours, its CNI attachment and rules. Forwarders lived in the
// creator and died with it. Nothing else has anything to remove.
func Release(ctx context.Context, cfg Config, rec Record) error {
	if rec.Name == "" || (rec.Mode != NetOwn && rec.Mode != NetOwnUserspace) {
		return nil
	}
	m, err := New(cfg)
	if err != nil {
		return err
	}
	// A process that does not run GC (a shim's delete action) collects
	// the state files of writers killed before their rename here: the
	// container's may be one, with no state of the name to open.
	m.removeDeadTemps()
	// By the recorded name: the container may have been created with
	// another prefix (a leftover found by another run).
	n, err := m.OpenName(rec.Name)
	if errors.Is(err, ErrNotFound) {
		return nil // already torn down
	}
	if err != nil {
		return err
	}
	return n.Teardown(ctx)
}

// GC removes the namespaces of cfg's prefix whose creator is gone. Without
// root there are none (a rootless namespace dies with its process).
func GC(ctx context.Context, cfg Config) ([]string, error) {
	if Rootless() {
		return nil, nil
	}
	m, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return m.GC(ctx, "")
}

// hostNet is the host network, or a joined namespace: nothing to make,
// nothing to remove.
type hostNet struct{ join string }

func (n *hostNet) Mode() NetworkMode {
	if n.join != "" {
		return NetJoin
	}
	return NetHost
}
func (n *hostNet) Prepare(context.Context, *exec.Cmd) (Child, error) { return Child{}, nil }
func (n *hostNet) Path() string                                      { return n.join }
func (n *hostNet) Started(_ int, err error) error                    { return err }
func (n *hostNet) Exited()                                           {}
func (n *hostNet) Record() Record                                    { return Record{Mode: n.Mode(), Path: n.join} }
func (n *hostNet) Teardown(context.Context) error                    { return nil }

// ownNet is a named namespace of ours: CNI (bridge, portmap) for the kernel
// forwards and the userspace forwarder for the rest.
type ownNet struct {
	m    *Manager
	id   string
	opts Options   // Forwards: those for portmap
	user []Forward // for the userspace forwarder
	why  string    // it is used
	mode NetworkMode
	log  Logf

	ns     *Namespace
	held   func() // releases the host ports of kernel forwards
	fwd    *Forwarder
	theirs *os.File        // the process's end of the outbound socket pair
	policy *procnet.Policy // what its host sockets are held to
	out    *Outbound
	once   sync.Once
	err    error
}

func (n *ownNet) Mode() NetworkMode { return n.mode }

func (n *ownNet) Prepare(ctx context.Context, cmd *exec.Cmd) (Child, error) {
	var err error
	n.ns, err = n.m.Setup(ctx, Request{
		Mode: ModeNew, ID: n.id, Bridge: n.opts.Bridge, Forwards: n.opts.Forwards, NoLoopback: n.opts.NoLoopback,
	})
	if err != nil {
		return Child{}, err
	}
	if len(n.opts.Forwards) > 0 {
		// portmap listens on nothing: hold the ports (holdports_linux.go).
		if n.held, err = holdPorts(n.opts.Forwards); err != nil {
			return Child{}, err
		}
	}
	if len(n.user) > 0 {
		n.log("forwarding %d port(s) with the userspace forwarder (%s)", len(n.user), n.why)
		if n.fwd, err = StartForwarder(n.ns.Path, n.user, ForwarderOptions{Log: n.log}); err != nil {
			return Child{}, err
		}
	}
	var child Child
	if n.opts.Outbound && !n.opts.Bridge {
		inside := slices.Clone(loopbackPrefixes)
		for _, a := range n.ns.Addrs {
			inside = append(inside, netip.PrefixFrom(a.Addr(), a.Addr().BitLen()))
		}
		if child.Outbound, n.theirs, n.policy, err = prepareOutbound(cmd, n.m.cfg.Bridge.Subnet, inside, hostResolverConf(n.ns.Name, n.opts), n.opts, n.log); err != nil {
			return Child{}, err
		}
		n.out = child.Outbound
		n.log("outbound: through host sockets (to anything but the host and other apps)")
	}
	return child, nil
}

func (n *ownNet) Path() string {
	if n.ns == nil {
		return ""
	}
	return n.ns.Path
}

func (n *ownNet) Started(pid int, err error) error {
	if n.theirs != nil {
		n.theirs.Close()
	}
	if err == nil && n.policy != nil {
		n.policy.SetApp(pid)
	}
	return err
}

func (n *ownNet) Exited() {
	if n.fwd != nil {
		n.fwd.Stop()
	}
}

func (n *ownNet) Record() Record {
	rec := Record{Mode: n.mode, Path: n.Path(), Name: n.m.NamespaceName(n.id)}
	if n.out != nil {
		out := *n.out
		out.SocketFD = 0 // the container process's alone
		rec.Outbound = &out
	}
	return rec
}

func (n *ownNet) Teardown(ctx context.Context) error {
	n.once.Do(func() {
		n.Exited()
		if n.theirs != nil {
			n.theirs.Close()
		}
		if n.ns != nil {
			n.err = n.ns.Teardown(ctx)
		}
		if n.held != nil {
			n.held() // once the DNAT is gone
		}
	})
	return n.err
}

// rootlessNet is the network of a user without root: the container process
// is cloned into a new user namespace (the caller's uid and gid mapped to 0
// inside) and a new network namespace owned by it, so /proc/<pid>/ns/net is
// the container's namespace; it has no name and dies with the process. The
// process brings its own lo up. Forwards listen in the creator and, since
// an unprivileged process cannot setns into a namespace owned by a child
// user namespace, the process dials the guest's port on its loopback and
// passes the connected socket back over a socket pair (ServeDial /
// FDDialer).
type rootlessNet struct {
	opts Options
	log  Logf

	pid    int
	theirs *os.File        // the process's end of the outbound socket pair
	policy *procnet.Policy // what its host sockets are held to
	dialForward
	once sync.Once
}

// dialForward is the userspace forwarder of a container whose namespace
// its creator cannot enter (rootless) or that has none (simulated): it
// listens on the host's ports and asks the container process, over a
// socket pair, to dial the guest's port (procnet.ServeDial, FDDialer).
type dialForward struct {
	host      *os.File // ours
	inside    *os.File // the process's end of the dial socket pair
	closeDial func() error
	fwd       *Forwarder
}

// start listens for fwds (a taken host port fails here) and gives cmd the
// process's end of the socket pair, at the descriptor it returns.
func (d *dialForward) start(cmd *exec.Cmd, fwds []Forward, log Logf) (int, error) {
	var err error
	if d.host, d.inside, err = procnet.DialSocketPair(); err != nil {
		return 0, err
	}
	dial, closeDial, err := procnet.FDDialer(d.host)
	if err != nil {
		return 0, err
	}
	d.closeDial = closeDial
	if d.fwd, err = StartForwarder("", fwds, ForwarderOptions{Dial: dial, Log: log}); err != nil {
		return 0, err
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, d.inside)
	return 2 + len(cmd.ExtraFiles), nil // ExtraFiles[i] is fd 3+i
}

// started closes our copy of the process's end, once it has started (or
// failed to).
func (d *dialForward) started() {
	if d.inside != nil {
		d.inside.Close()
	}
}

// Exited stops the forwarder (its listeners and live connections). The
// dial socket goes first: a dial waiting for the process inside (which
// may never answer: a child of a process taken over can hold its end)
// then fails at once, and so do those queued behind it, instead of each
// taking its full wait before Stop returns.
func (d *dialForward) Exited() {
	if d.closeDial != nil {
		d.closeDial()
	}
	if d.host != nil {
		// With the dialer's copy: what waits unread in the socket (and
		// the sockets queued with it) goes now.
		d.host.Close()
	}
	if d.fwd != nil {
		d.fwd.Stop()
	}
}

// close stops the forwarder and closes both ends of the socket pair.
func (d *dialForward) close() {
	d.Exited()
	for _, f := range []*os.File{d.host, d.inside} {
		if f != nil {
			f.Close()
		}
	}
}

func planRootless(o Options, logf Logf) (Network, error) {
	if ok, reason := UserNamespacesAllowed(); !ok {
		return nil, fmt.Errorf("%w: %s", ErrUserNamespaces, reason)
	}
	if o.Bridge {
		return nil, errors.New("a bridge network needs root (CNI plugins); without root a namespace has loopback and forwards only")
	}
	if o.NoLoopback && len(o.Forwards) > 0 {
		return nil, errors.New("forwards without root go through the namespace's loopback, which is disabled")
	}
	return &rootlessNet{opts: o, log: logf}, nil
}

func (n *rootlessNet) Mode() NetworkMode { return NetRootless }

// Prepare starts the forwarder (the host ports are bound here, so a taken
// one fails before any process exists) and makes cmd clone the namespaces.
func (n *rootlessNet) Prepare(_ context.Context, cmd *exec.Cmd) (Child, error) {
	n.log("network: new user namespace (uid %d -> 0) and network namespace, created with the container process", os.Geteuid())
	a := cmd.SysProcAttr
	a.Cloneflags |= syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET
	a.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
	a.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	a.GidMappingsEnableSetgroups = false
	child := Child{Loopback: !n.opts.NoLoopback}
	var err error
	if n.opts.Outbound {
		// The namespace has no name: the host's resolv.conf applies.
		if child.Outbound, n.theirs, n.policy, err = prepareOutbound(cmd, "", slices.Clone(loopbackPrefixes), cmp.Or(n.opts.ResolvConf, filepath.Join(etcDir, "resolv.conf")), n.opts, n.log); err != nil {
			return Child{}, err
		}
	}
	if len(n.opts.Forwards) == 0 {
		return child, nil
	}
	if child.DialFD, err = n.start(cmd, n.opts.Forwards, n.log); err != nil {
		return Child{}, err
	}
	return child, nil
}

func (n *rootlessNet) Path() string { return "" }

// Started closes our copy of the process's socket end, and explains the
// kernel refusing the user namespace (EPERM: a seccomp or LSM policy;
// ENOSPC: user.max_user_namespaces reached; EINVAL: no user namespace
// support) as ErrUserNamespaces.
func (n *rootlessNet) Started(pid int, err error) error {
	n.started()
	if n.theirs != nil {
		n.theirs.Close()
	}
	if err != nil {
		for _, e := range []syscall.Errno{syscall.EPERM, syscall.ENOSPC, syscall.EINVAL, syscall.EUSERS} {
			if errors.Is(err, e) {
				return fmt.Errorf("%w: creating a user namespace failed: %v", ErrUserNamespaces, err)
			}
		}
		return err
	}
	n.pid = pid
	if n.policy != nil {
		n.policy.SetApp(pid)
	}
	return nil
}

func (n *rootlessNet) Record() Record {
	r := Record{Mode: NetRootless}
	if n.pid > 0 {
		r.Path = fmt.Sprintf("/proc/%d/ns/net", n.pid)
	}
	return r
}

func (n *rootlessNet) Teardown(context.Context) error {
	n.once.Do(func() {
		n.close()
		if n.theirs != nil {
			n.theirs.Close()
		}
	})
	return nil
}
