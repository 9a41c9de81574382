package task

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	"github.com/containerd/typeurl/v2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/types/known/anypb"
)

// cgroup is the cgroup of a task process (from spec.Linux.CgroupsPath):
// v1 controllers on legacy and hybrid hosts, cgroup2 on unified ones.
type cgroup interface {
	// stats returns the metrics `ctr task metrics` and CRI show.
	stats() (*anypb.Any, error)
	update(*specs.LinuxResources) error
	delete() error
}

// cgroupPath returns the spec's cgroups path, or "" when there is none or
// it is in the systemd driver's slice:prefix:name form (not supported).
func cgroupPath(s *specs.Spec) string {
	if s.Linux == nil || s.Linux.CgroupsPath == "" || strings.Contains(s.Linux.CgroupsPath, ":") {
		return ""
	}
	return s.Linux.CgroupsPath
}

// newCgroup creates the cgroup at path with the spec's resources and moves
// pid into it.
func newCgroup(path string, res *specs.LinuxResources, pid int) (cgroup, error) {
	if res == nil {
		res = &specs.LinuxResources{}
	}
	res = normalizeResources(res)
	if cgroups.Mode() == cgroups.Unified {
		m, err := cgroup2.NewManager("/sys/fs/cgroup", path, cgroup2.ToResources(res))
		if err != nil {
			return nil, fmt.Errorf("create cgroup %s: %w", path, err)
		}
		if err := m.AddProc(uint64(pid)); err != nil {
			m.Delete()
			return nil, fmt.Errorf("move process %d into cgroup %s: %w", pid, path, err)
		}
		return cgroupV2{m}, nil
	}
	cg, err := cgroup1.New(cgroup1.StaticPath(path), res)
	if err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", path, err)
	}
	if err := cg.AddProc(uint64(pid)); err != nil {
		cg.Delete()
		return nil, fmt.Errorf("move process %d into cgroup %s: %w", pid, path, err)
	}
	return cgroupV1{cg}, nil
}

// deleteCgroup removes the cgroup at path if it exists (the delete action,
// after the process is gone).
func deleteCgroup(path string) error {
	if cgroups.Mode() == cgroups.Unified {
		m, err := cgroup2.Load(path) // does not check that the cgroup exists
		if err != nil {
			return nil
		}
		if err := m.Delete(); !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil // not there
	}
	cg, err := cgroup1.Load(cgroup1.StaticPath(path))
	if err != nil {
		return nil // not there
	}
	return cg.Delete()
}

type cgroupV1 struct{ cg cgroup1.Cgroup }

func (c cgroupV1) stats() (*anypb.Any, error) {
	m, err := c.cg.Stat(cgroup1.IgnoreNotExist)
	if err != nil {
		return nil, fmt.Errorf("read cgroup stats: %w", err)
	}
	return typeurl.MarshalAnyToProto(m)
}

func (c cgroupV1) update(r *specs.LinuxResources) error { return c.cg.Update(normalizeResources(r)) }
func (c cgroupV1) delete() error                        { return c.cg.Delete() }

type cgroupV2 struct{ m *cgroup2.Manager }

func (c cgroupV2) stats() (*anypb.Any, error) {
	m, err := c.m.Stat()
	if err != nil {
		return nil, fmt.Errorf("read cgroup stats: %w", err)
	}
	return typeurl.MarshalAnyToProto(m)
}

func (c cgroupV2) update(r *specs.LinuxResources) error {
	return c.m.Update(cgroup2.ToResources(normalizeResources(r)))
}
func (c cgroupV2) delete() error { return c.m.Delete() }
