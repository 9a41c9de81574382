//go:build !linux

package main

import (
	"errors"
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// haveCgroups: no cgroups here; --cpus is refused and --memory caps the
// guest's memory only.
const haveCgroups = false

func enterCgroup(path string, res *specs.LinuxResources) (leave func() error, err error) {
	return nil, errors.New("cgroups need Linux")
}

// hostCPUs is how many CPUs this process may use.
func hostCPUs() int { return runtime.NumCPU() }
