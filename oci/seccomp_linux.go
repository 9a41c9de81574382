package oci

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/wasmrun/wasmrun/internal/initproc"
)

// DefaultSeccomp is the seccomp profile for a container process whose
// front end chose none (initproc.DefaultSeccomp says what it denies).
func DefaultSeccomp() *specs.LinuxSeccomp { return initproc.DefaultSeccomp() }
