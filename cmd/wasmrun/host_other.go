//go:build !linux

package main

import (
	"errors"
	"fmt"
	"os"
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

// errOSNotYet is what the commands of isolated apps say here.
var errOSNotYet = errors.New("wasmrun os, ps and stop need Linux for now (isolated apps on " + runtime.GOOS + " are not implemented yet); wasmrun run works")

func osCmd(args []string, stdin, stdout, stderr *os.File) int {
	fmt.Fprintln(stderr, "wasmrun:", errOSNotYet)
	return ExitFailure
}

func psCmd(args []string, stdout, stderr *os.File) int {
	fmt.Fprintln(stderr, "wasmrun:", errOSNotYet)
	return ExitFailure
}

func stopCmd(args []string, stdout, stderr *os.File) int {
	fmt.Fprintln(stderr, "wasmrun:", errOSNotYet)
	return ExitFailure
}
