package oci

import (
	"errors"
	"os"
	"os/exec"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/wasmrun/wasmrun/internal/initproc"
)

// privateNamespaces are the UTS and IPC namespaces a spec asks to be new
// (the type listed without a path), as clone flags, and the hostname to
// set in the new UTS namespace. A wasm guest sees neither, but a pod
// sandbox's are the pod's: its native containers (run by runc) join them
// by path, and must not find the host's hostname and System V IPC there.
// A path is not joined: nothing of a wasm guest lives in them.
func privateNamespaces(spec *specs.Spec) (flags uintptr, hostname string) {
	if spec.Linux == nil {
		return 0, ""
	}
	for _, ns := range spec.Linux.Namespaces {
		switch {
		case ns.Path != "":
		case ns.Type == specs.UTSNamespace:
			flags |= syscall.CLONE_NEWUTS
			hostname = spec.Hostname
		case ns.Type == specs.IPCNamespace:
			flags |= syscall.CLONE_NEWIPC
		}
	}
	return flags, hostname
}

// privateNamespaces gives the container process the UTS and IPC
// namespaces of its own its spec asks for (c.namespaces). They need root,
// or the user namespace a rootless container's process has; without
// either the process keeps the caller's, and the log says so.
func (c *Container) privateNamespaces(cmd *exec.Cmd, cfg *initproc.Config) {
	if c.namespaces == 0 {
		return
	}
	a := cmd.SysProcAttr
	if os.Geteuid() != 0 && a.Cloneflags&syscall.CLONE_NEWUSER == 0 {
		c.rt.logf("no UTS and IPC namespaces of its own without root or a user namespace")
		cfg.Hostname = ""
		return
	}
	a.Cloneflags |= c.namespaces
}

// noUserNamespace refuses a spec that asks for a user namespace (a user
// namespace entry, or uid and gid mappings: Kubernetes' hostUsers: false):
// the container process does not run in one, so its root would be the
// host's root, not the unprivileged host user the mappings name.
func noUserNamespace(spec *specs.Spec) error {
	if spec.Linux == nil {
		return nil
	}
	asks := len(spec.Linux.UIDMappings) > 0 || len(spec.Linux.GIDMappings) > 0
	for _, ns := range spec.Linux.Namespaces {
		asks = asks || ns.Type == specs.UserNamespace
	}
	if asks {
		return errors.New("the spec asks for a user namespace (uid and gid mappings, as Kubernetes' hostUsers: false does), which wasmrun's containers do not have: refused rather than run as the host's users")
	}
	return nil
}
