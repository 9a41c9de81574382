package oci

import (
	"errors"
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/wasmrun/wasmrun/internal/initproc"
)

// containerMounts is the mount configuration for spec with root at root
// and the given preopens, which the container process mounts
// (initproc.Mounts). Paths of readonlyPaths and maskedPaths resolve
// beneath the root (a symlink cannot lead out of it); those that do not
// exist are skipped, as runc does.
func containerMounts(root string, spec *specs.Spec, preopens []Preopen) (*initproc.Mounts, error) {
	m := &initproc.Mounts{}
	for _, p := range preopens {
		if p.ReadOnly {
			m.ReadOnly = append(m.ReadOnly, p.HostPath)
		}
	}
	if spec.Linux == nil {
		return m, nil
	}
	for _, list := range []struct {
		paths []string
		out   *[]string
	}{{spec.Linux.ReadonlyPaths, &m.ReadOnly}, {spec.Linux.MaskedPaths, &m.Masked}} {
		for _, p := range list.paths {
			host, err := resolveInRoot(root, p)
			if err != nil {
				return nil, fmt.Errorf("path %s of the spec: %w", p, err)
			}
			if _, err := os.Lstat(host); errors.Is(err, os.ErrNotExist) {
				continue
			}
			*list.out = append(*list.out, host)
		}
	}
	return m, nil
}
