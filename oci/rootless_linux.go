package oci

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"github.com/wasmrun/wasmrun/cni"
)

// Rootless mode and the userspace forwarder.
//
// Without root, a spec that asks for a new network namespace gets one the
// unprivileged way: the container process is cloned into a new user
// namespace (the caller's uid and gid mapped to 0 inside) and a new network
// namespace owned by it. /proc/<pid>/ns/net is the container's namespace;
// it has no name under /run/netns and dies with the process. The process
// brings its own lo up (it holds CAP_NET_ADMIN in its namespace).
//
// Forwards then go through a userspace forwarder in the creating process:
// it listens on the host, and since an unprivileged process cannot setns
// into a namespace owned by a child user namespace, the container process
// dials the guest's port on its loopback and passes the connected socket
// back over a socket pair (cni.ServeDial / cni.FDDialer).
//
// With root, the same forwarder (entering the named namespace with setns)
// replaces CNI portmap when the CNI plugins are not installed.

// Network modes recorded in the state (NetworkMode) and shown to users.
const (
	NetModeHost     = "host (the host's network, no isolation)"
	NetModeJoin     = "join (an existing namespace owned by someone else)"
	NetModeRootless = "rootless (user+network namespace, userspace forwarder)"
	NetModeRoot     = "root (named netns, CNI bridge+portmap)"
	// NetModeRootLoopback is root mode without bridge or forwards.
	NetModeRootLoopback = "root (named netns, loopback only)"
	// NetModeRootUserspace is root mode with forwards but no CNI plugins.
	NetModeRootUserspace = "root (named netns, userspace forwarder: CNI plugins not installed)"
	// NetModeRootIPv6 is root mode whose forwards all listen on IPv6 host
	// addresses, which portmap cannot send into the namespace.
	NetModeRootIPv6 = "root (named netns, userspace forwarder for IPv6 host addresses)"
	// NetModeRootMixed is root mode with CNI portmap for IPv4 host
	// addresses and the userspace forwarder for IPv6 ones.
	NetModeRootMixed = "root (named netns, CNI bridge+portmap; userspace forwarder for IPv6 host addresses)"
)

// ErrUserNamespaces marks a rootless Create that failed because this
// system does not let an unprivileged user create a user namespace.
var ErrUserNamespaces = errors.New("unprivileged user namespaces are not available")

// NetworkMode returns the network mode recorded for container id (one of
// the NetMode constants; "" for state written before modes were recorded).
func (r *Runtime) NetworkMode(id string) (string, error) {
	st, err := r.readState(id)
	if err != nil {
		return "", err
	}
	return st.NetMode, nil
}

// userspaceNet is the part of a container's network that lives in its
// creating process: the user namespace settings of the child (rootless)
// and the userspace forwarder. Its methods are nil-safe (nil = none).
type userspaceNet struct {
	rootless bool
	loopback bool
	fwds     []cni.Forward
	log      cni.Logf

	inside    *os.File // the child's end of the dial socket pair
	host      *os.File // ours
	closeDial func() error
	fwd       *cni.Forwarder
	stopOnce  sync.Once
}

// setupRootless prepares a rootless new namespace: checks the system
// allows it and what is asked is possible, and starts the forwarder (the
// host ports are bound here, so a taken one fails before any process
// exists).
func (r *Runtime) setupRootless(st *stateFile, opts NetworkOpts) (*userspaceNet, error) {
	if ok, reason := cni.UserNamespacesAllowed(); !ok {
		return nil, fmt.Errorf("%w: %s", ErrUserNamespaces, reason)
	}
	if opts.Bridge {
		return nil, errors.New("a bridge network needs root (CNI plugins); without root a namespace has loopback and forwards only")
	}
	if opts.NoLoopback && len(opts.Forwards) > 0 {
		return nil, errors.New("forwards without root go through the namespace's loopback, which is disabled")
	}
	un := &userspaceNet{rootless: true, loopback: !opts.NoLoopback, fwds: opts.Forwards, log: r.logf}
	st.NetMode = NetModeRootless
	r.logf("network: new user namespace (uid %d -> 0) and network namespace, created with the container process", os.Geteuid())
	if len(opts.Forwards) == 0 {
		return un, nil
	}
	var err error
	if un.host, un.inside, err = cni.DialSocketPair(); err != nil {
		return nil, err
	}
	dial, closeDial, err := cni.FDDialer(un.host)
	if err != nil {
		un.stop()
		return nil, err
	}
	un.closeDial = closeDial
	if un.fwd, err = cni.StartForwarder("", opts.Forwards, cni.ForwarderOptions{Dial: dial, Log: r.logf}); err != nil {
		un.stop()
		return nil, err
	}
	return un, nil
}

// userspaceFallback decides, for a root new namespace, which forwards go
// through the userspace forwarder instead of CNI portmap: all of them when
// they are asked without a bridge and the CNI plugins are missing, and
// those on an IPv6 host address ([::1], [::]), which portmap cannot send
// into the namespace's IPv4 address. It takes them out of req and returns
// the forwarder to start once the namespace exists.
func (r *Runtime) userspaceFallback(st *stateFile, req *cni.Request) *userspaceNet {
	st.NetMode = NetModeRoot
	if len(req.Forwards) == 0 && !req.Bridge {
		st.NetMode = NetModeRootLoopback
	}
	if len(req.Forwards) == 0 {
		return nil
	}
	if !req.Bridge {
		if err := r.CNI.CheckPlugins(true); err != nil {
			r.logf("%v: forwarding with the userspace forwarder instead of CNI portmap", err)
			st.NetMode = NetModeRootUserspace
			un := &userspaceNet{fwds: req.Forwards, log: r.logf}
			req.Forwards = nil
			return un
		}
	}
	var kernel, user []cni.Forward
	for _, f := range req.Forwards {
		if f.IPv6Host() {
			user = append(user, f)
		} else {
			kernel = append(kernel, f)
		}
	}
	if len(user) == 0 {
		return nil
	}
	req.Forwards = kernel
	st.NetMode = NetModeRootMixed
	if len(kernel) == 0 && !req.Bridge {
		st.NetMode = NetModeRootIPv6
	}
	r.logf("forwarding %d IPv6 host address(es) with the userspace forwarder (portmap cannot reach an IPv4 namespace from them)", len(user))
	return &userspaceNet{fwds: user, log: r.logf}
}

// startIn starts the fallback forwarder into the named namespace nsPath.
func (un *userspaceNet) startIn(nsPath string) error {
	if un == nil || un.rootless {
		return nil
	}
	var err error
	un.fwd, err = cni.StartForwarder(nsPath, un.fwds, cni.ForwarderOptions{Log: un.log})
	return err
}

// prepare makes cmd start the container process in a new user and network
// namespace (rootless) and tells the child, through cfg, to bring lo up and
// to answer dial requests on the inherited socket.
func (un *userspaceNet) prepare(cmd *exec.Cmd, cfg *initConfig) {
	if un == nil || !un.rootless {
		return
	}
	a := cmd.SysProcAttr
	a.Cloneflags |= syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET
	a.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
	a.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	a.GidMappingsEnableSetgroups = false
	cfg.UserNS, cfg.Loopback = true, un.loopback
	if un.inside != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, un.inside)
		cfg.DialFD = 2 + len(cmd.ExtraFiles) // ExtraFiles[i] is fd 3+i
	}
}

// started closes our copy of the child's socket end once the child has it.
func (un *userspaceNet) started() {
	if un != nil && un.inside != nil {
		un.inside.Close()
	}
}

// startError explains a failed start of a rootless container process: the
// kernel refusing the user namespace (EPERM: a seccomp or LSM policy;
// ENOSPC: user.max_user_namespaces reached; EINVAL: no user namespace
// support) is ErrUserNamespaces.
func (un *userspaceNet) startError(err error) error {
	if un == nil || !un.rootless {
		return err
	}
	for _, e := range []syscall.Errno{syscall.EPERM, syscall.ENOSPC, syscall.EINVAL, syscall.EUSERS} {
		if errors.Is(err, e) {
			return fmt.Errorf("%w: creating a user namespace failed: %v", ErrUserNamespaces, err)
		}
	}
	return err
}

// stop stops the forwarder (its listeners and live connections) and closes
// the dial socket pair; idempotent. It runs when the container process
// exits, and on a failed Create.
func (un *userspaceNet) stop() {
	if un == nil {
		return
	}
	un.stopOnce.Do(func() {
		if un.fwd != nil {
			un.fwd.Stop()
		}
		if un.closeDial != nil {
			un.closeDial()
		}
		if un.host != nil {
			un.host.Close()
		}
		if un.inside != nil {
			un.inside.Close()
		}
	})
}

// setupUserNS runs in the container process of a rootless container,
// before it reports ready: lo up, and the dial server for the forwarder.
func (cfg *initConfig) setupUserNS() error {
	if !cfg.UserNS {
		return nil
	}
	if cfg.Loopback {
		if err := cni.LoopbackUp(); err != nil {
			return err
		}
	}
	if cfg.DialFD > 0 {
		f := os.NewFile(uintptr(cfg.DialFD), "dial")
		go func() {
			if err := cni.ServeDial(f); err != nil {
				fmt.Fprintf(os.Stderr, "wasmrun: container %s: forwarder: %v\n", cfg.ID, err)
			}
		}()
	}
	return nil
}

// netns returns the namespace path to record for the container process:
// its own /proc/<pid>/ns/net when rootless (it has no other name).
func (un *userspaceNet) netns(pid int, recorded string) string {
	if un != nil && un.rootless {
		return fmt.Sprintf("/proc/%d/ns/net", pid)
	}
	return recorded
}
