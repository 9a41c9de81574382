package main

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/oci"
)

// haveCgroups: `wasmrun run` can put itself in a cgroup (as root).
const haveCgroups = true

// enterCgroup moves this process into a new cgroup at path with res, after
// removing the empty ones that runs which crashed left behind.
func enterCgroup(path string, res *specs.LinuxResources) (leave func() error, err error) {
	oci.RemoveEmptyCgroups("/wasmrun", "run-")
	return oci.EnterCgroup(path, res)
}

// hostCPUs is how many CPUs this process may run on (sched_getaffinity),
// 0 when unknown.
func hostCPUs() int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return 0
	}
	return set.Count()
}
