package oci

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/wasmrun/wasmrun/internal/initproc"
)

// ipcSysctls are the sysctls of an IPC namespace (besides fs.mqueue.*).
var ipcSysctls = []string{
	"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
	"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
}

// sysctls are the spec's linux.sysctl, which the container process sets in
// its namespaces before anything else (CRI puts a pod's there, in its
// sandbox's spec: net.ipv4.ip_unprivileged_port_start=0 so that a
// non-root server may listen on port 80, net.ipv4.ping_group_range, and
// what the pod's securityContext.sysctls asks). As runc does, only a
// sysctl of a namespace the process has of its own is allowed: net.* with
// a network namespace that is not the host's, the IPC ones with an IPC
// namespace of its own, kernel.domainname with a UTS one; any other would
// change the host, and is refused before anything is made. own are the
// namespaces the process is given (CLONE_NEWIPC, CLONE_NEWUTS); hostNet
// says it shares the host's network namespace.
func sysctls(spec *specs.Spec, own uintptr, hostNet bool) ([]initproc.Sysctl, error) {
	if spec.Linux == nil || len(spec.Linux.Sysctl) == 0 {
		return nil, nil
	}
	var out []initproc.Sysctl
	for _, key := range slices.Sorted(maps.Keys(spec.Linux.Sysctl)) {
		parts := strings.Split(key, ".")
		if strings.ContainsAny(key, "/\x00") || slices.Contains(parts, "") {
			return nil, fmt.Errorf("sysctl %q: not a sysctl name (dot-separated, as in net.ipv4.ip_forward)", key)
		}
		switch {
		case strings.HasPrefix(key, "net."):
			if hostNet {
				return nil, fmt.Errorf("sysctl %q: not allowed: the container shares the host's network namespace, so it would change the host's", key)
			}
		case slices.Contains(ipcSysctls, key) || strings.HasPrefix(key, "fs.mqueue."):
			if own&syscall.CLONE_NEWIPC == 0 {
				return nil, fmt.Errorf("sysctl %q: not allowed: the container has no IPC namespace of its own, so it would change the host's", key)
			}
		case key == "kernel.domainname":
			if own&syscall.CLONE_NEWUTS == 0 {
				return nil, fmt.Errorf("sysctl %q: not allowed: the container has no UTS namespace of its own, so it would change the host's", key)
			}
		default:
			return nil, fmt.Errorf("sysctl %q: not allowed: it is not in a kernel namespace of the container's own, so it would change the host", key)
		}
		out = append(out, initproc.Sysctl{Key: key, Value: spec.Linux.Sysctl[key]})
	}
	return out, nil
}
