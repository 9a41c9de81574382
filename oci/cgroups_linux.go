package oci

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	"github.com/containerd/typeurl/v2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/wasmrun/wasmrun/internal/initproc"
	"github.com/wasmrun/wasmrun/internal/runner"
)

// Cgroups. The container process joins the cgroup of the spec
// (linux.cgroupsPath, with linux.resources) right after it starts and
// before it is told what to run, so compiling and instantiating the module
// are charged to the container. Delete removes the cgroup; Stats and
// Update work from any process, by the path recorded in the state.

// cgroup is the cgroup of a container process: v1 controllers on legacy
// and hybrid hosts, cgroup2 on unified ones.
type cgroup interface {
	// stats returns the metrics `ctr task metrics` and CRI show.
	stats() (*anypb.Any, error)
	update(*specs.LinuxResources) error
	delete() error
	// addProc moves pid into the cgroup.
	addProc(pid int) error
	// freeze stops every process in the cgroup and returns once all of
	// them are stopped (freezer.go); thaw lets them run again.
	freeze() error
	thaw() error
	// oomKills is how many processes the kernel's OOM killer has killed
	// in the cgroup (its memory controller's oom_kill count).
	oomKills() (uint64, error)
	// memoryWrites are the control file writes that set the cgroup's
	// memory limits to m's (lowering them: the limit before the swap
	// limit on v1, which must stay above it).
	memoryWrites(m *specs.LinuxMemory) ([]initproc.LimitWrite, error)
}

// compileRoom is the memory a container's cgroup gets beyond its limit
// while its process compiles the module (or loads it from the cache):
// compiling takes about 15 times the module's size for a while (10.8 MiB
// of Go took 156 MiB), far more than running it. The process lowers the
// limit itself once the module is loaded, before any guest code runs
// (initproc.Config.MemoryAfterLoad); a module whose compiling takes more
// still meets the OOM killer, which the creator reports.
func compileRoom(moduleSize int64) int64 { return RuntimeMemory + 16*moduleSize }

// withCompileRoom returns res with its memory limits raised by the
// compile room for a module of size bytes, or res itself when it sets no
// memory limit.
func withCompileRoom(res *specs.LinuxResources, size int64) *specs.LinuxResources {
	r := normalizeResources(res)
	if r == nil || r.Memory == nil || r.Memory.Limit == nil || *r.Memory.Limit < 0 {
		return res
	}
	size = min(size, runner.MaxModuleSize) // a larger one is not loaded
	m := *r.Memory
	limit := *m.Limit + compileRoom(size)
	m.Limit = &limit
	if m.Swap != nil && *m.Swap > 0 {
		swap := *m.Swap + compileRoom(size)
		m.Swap = &swap
	}
	r.Memory = &m
	return r
}

// CgroupPath returns the spec's cgroups path, or "" when there is none or
// it is in the systemd driver's slice:prefix:name form (not supported).
func CgroupPath(s *specs.Spec) string {
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
		m, err := cgroup2.NewManager(unifiedRoot, path, cgroup2.ToResources(res))
		if err != nil {
			return nil, fmt.Errorf("create cgroup %s: %w", path, err)
		}
		if err := m.AddProc(uint64(pid)); err != nil {
			m.Delete()
			return nil, fmt.Errorf("move process %d into cgroup %s: %w", pid, path, err)
		}
		return cgroupV2{m, filepath.Join(unifiedRoot, path)}, nil
	}
	cg, err := cgroup1.New(cgroup1.StaticPath(path), res)
	if err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", path, err)
	}
	if err := cg.AddProc(uint64(pid)); err != nil {
		cg.Delete()
		return nil, fmt.Errorf("move process %d into cgroup %s: %w", pid, path, err)
	}
	return cgroupV1{cg, path}, nil
}

// deleteCgroup removes the cgroup at path if it exists, once the process
// is gone. The kernel may still count a process that has just exited (as
// runc does, it tries again for a while).
func deleteCgroup(path string) (err error) {
	for delay := 5 * time.Millisecond; ; delay *= 2 {
		if err = deleteCgroupOnce(path); err == nil || delay > 640*time.Millisecond {
			return err
		}
		time.Sleep(delay)
	}
}

func deleteCgroupOnce(path string) error {
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

// cgroupV1 is a cgroup in every v1 hierarchy at path.
type cgroupV1 struct {
	cg   cgroup1.Cgroup
	path string
}

func (c cgroupV1) stats() (*anypb.Any, error) {
	m, err := c.cg.Stat(cgroup1.IgnoreNotExist)
	if err != nil {
		return nil, fmt.Errorf("read cgroup stats: %w", err)
	}
	return typeurl.MarshalAnyToProto(m)
}

func (c cgroupV1) oomKills() (uint64, error) {
	m, err := c.cg.Stat(cgroup1.IgnoreNotExist)
	if err != nil {
		return 0, fmt.Errorf("read cgroup stats: %w", err)
	}
	return m.GetMemoryOomControl().GetOomKill(), nil
}

func (c cgroupV1) memoryWrites(m *specs.LinuxMemory) ([]initproc.LimitWrite, error) {
	dir := c.subsystemDir(cgroup1.Memory)
	if dir == "" || m == nil || m.Limit == nil {
		return nil, fmt.Errorf("cgroup %s: no memory limit to set (the v1 memory controller is not mounted?)", c.path)
	}
	w := []initproc.LimitWrite{{File: filepath.Join(dir, "memory.limit_in_bytes"), Value: *m.Limit}}
	if m.Swap != nil && *m.Swap > 0 {
		w = append(w, initproc.LimitWrite{File: filepath.Join(dir, "memory.memsw.limit_in_bytes"), Value: *m.Swap})
	}
	return w, nil
}

func (c cgroupV1) update(r *specs.LinuxResources) error { return c.cg.Update(normalizeResources(r)) }
func (c cgroupV1) delete() error                        { return c.cg.Delete() }
func (c cgroupV1) addProc(pid int) error                { return c.cg.AddProc(uint64(pid)) }

func (c cgroupV1) freeze() error {
	dir, err := c.freezerDir()
	if err != nil {
		return err
	}
	return setFrozen(freezerV1{dir}, true)
}

func (c cgroupV1) thaw() error {
	dir, err := c.freezerDir()
	if err != nil {
		return err
	}
	return setFrozen(freezerV1{dir}, false)
}

// freezerDir is the cgroup's directory in the v1 freezer hierarchy.
// subsystemDir is the cgroup's directory in the hierarchy of controller
// name, or "" when that controller is not mounted.
func (c cgroupV1) subsystemDir(name cgroup1.Name) string {
	for _, s := range c.cg.Subsystems() {
		if p, ok := s.(interface{ Path(string) string }); ok && s.Name() == name {
			return p.Path(c.path)
		}
	}
	return ""
}

func (c cgroupV1) freezerDir() (string, error) {
	if dir := c.subsystemDir(cgroup1.Freezer); dir != "" {
		return dir, nil
	}
	return "", fmt.Errorf("cgroup %s has no freezer: the v1 freezer controller is not mounted (/sys/fs/cgroup/freezer): %w", c.path, ErrFailedPrecondition)
}

// cgroupV2 is a cgroup2 cgroup; dir is its directory (the library keeps
// it to itself).
type cgroupV2 struct {
	m   *cgroup2.Manager
	dir string
}

// unifiedRoot is where the cgroup2 hierarchy of a unified host is.
const unifiedRoot = "/sys/fs/cgroup"

func (c cgroupV2) stats() (*anypb.Any, error) {
	m, err := c.m.Stat()
	if err != nil {
		return nil, fmt.Errorf("read cgroup stats: %w", err)
	}
	return typeurl.MarshalAnyToProto(m)
}

func (c cgroupV2) oomKills() (uint64, error) {
	m, err := c.m.Stat()
	if err != nil {
		return 0, fmt.Errorf("read cgroup stats: %w", err)
	}
	return m.GetMemoryEvents().GetOomKill(), nil
}

func (c cgroupV2) memoryWrites(m *specs.LinuxMemory) ([]initproc.LimitWrite, error) {
	if m == nil || m.Limit == nil {
		return nil, fmt.Errorf("cgroup %s: no memory limit to set", c.dir)
	}
	// memory.swap.max is the swap beyond memory.max, which the compile
	// room did not change.
	return []initproc.LimitWrite{{File: filepath.Join(c.dir, "memory.max"), Value: *m.Limit}}, nil
}

func (c cgroupV2) update(r *specs.LinuxResources) error {
	return c.m.Update(cgroup2.ToResources(normalizeResources(r)))
}
func (c cgroupV2) delete() error         { return c.m.Delete() }
func (c cgroupV2) addProc(pid int) error { return c.m.AddProc(uint64(pid)) }
func (c cgroupV2) freeze() error         { return setFrozen(freezerV2{c.dir}, true) }
func (c cgroupV2) thaw() error           { return setFrozen(freezerV2{c.dir}, false) }

// loadCgroup opens the existing cgroup at path.
func loadCgroup(path string) (cgroup, error) {
	if cgroups.Mode() == cgroups.Unified {
		m, err := cgroup2.Load(path)
		if err != nil {
			return nil, fmt.Errorf("load cgroup %s: %w", path, err)
		}
		return cgroupV2{m, filepath.Join(unifiedRoot, path)}, nil
	}
	cg, err := cgroup1.Load(cgroup1.StaticPath(path))
	if err != nil {
		return nil, fmt.Errorf("load cgroup %s: %w", path, err)
	}
	return cgroupV1{cg, path}, nil
}

// WatchableCgroup returns the existing cgroup at path (a container's,
// made by wasmrun or by runc from the same spec) in the form containerd's
// OOM watchers (pkg/oom v1 and v2) take: a cgroup1.Cgroup or a
// *cgroup2.Manager.
func WatchableCgroup(path string) (any, error) {
	cg, err := loadCgroup(path)
	if err != nil {
		return nil, err
	}
	switch c := cg.(type) {
	case cgroupV1:
		return c.cg, nil
	case cgroupV2:
		return c.m, nil
	}
	return nil, fmt.Errorf("cgroup %s: %T cannot be watched", path, cg)
}

// joinCgroup moves pid into the existing cgroup at path (a container's
// exec process into the container's).
func joinCgroup(path string, pid int) error {
	cg, err := loadCgroup(path)
	if err == nil {
		err = cg.addProc(pid)
	}
	if err != nil {
		return fmt.Errorf("move process %d into cgroup %s: %w", pid, path, err)
	}
	return nil
}

// Stats returns the cgroup metrics of container id (what `ctr task
// metrics` and CRI show).
func (r *Runtime) Stats(id string) (*anypb.Any, error) {
	st, err := r.readState(id)
	if err != nil {
		return nil, err
	}
	if st.Cgroup == "" {
		return nil, fmt.Errorf("container %s has no cgroup, so no metrics (its spec sets no linux.cgroupsPath, or one in the systemd driver's slice:prefix:name form, which wasmrun does not support): %w", id, ErrNotFound)
	}
	return CgroupStats(st.Cgroup)
}

// OOMKilled reports whether the kernel's OOM killer has killed a process
// of container id (in its cgroup): what ended a process that died of
// SIGKILL nobody sent, when its memory limit was reached.
func (r *Runtime) OOMKilled(id string) (bool, error) {
	st, err := r.readState(id)
	if err != nil || st.Cgroup == "" {
		return false, err
	}
	cg, err := loadCgroup(st.Cgroup)
	if err != nil {
		return false, err
	}
	n, err := cg.oomKills()
	return n > 0, err
}

// CgroupStats returns the metrics of the existing cgroup at path (a
// container's, made by wasmrun or by runc from the same spec).
func CgroupStats(path string) (*anypb.Any, error) {
	cg, err := loadCgroup(path)
	if err != nil {
		return nil, err
	}
	return cg.stats()
}

// Update changes the resources of container id's cgroup.
func (r *Runtime) Update(id string, res *specs.LinuxResources) error {
	st, err := r.readState(id)
	if err != nil {
		return err
	}
	if st.Cgroup == "" {
		return fmt.Errorf("container %s has no cgroup to update: %w", id, ErrFailedPrecondition)
	}
	cg, err := loadCgroup(st.Cgroup)
	if err != nil {
		return err
	}
	return cg.update(res)
}

// EnterCgroup moves this process into a new cgroup at path with res, for a
// front end that runs a guest in its own process (`wasmrun run`), and
// returns how to leave it: back to the cgroup the process came from, the
// new one removed. A cgroup left by a crash is empty, and
// RemoveEmptyCgroups takes it.
func EnterCgroup(path string, res *specs.LinuxResources) (leave func() error, err error) {
	pid := os.Getpid()
	var back func() error
	if cgroups.Mode() == cgroups.Unified {
		_, from, err := cgroup1.ParseCgroupFileUnified(fmt.Sprintf("/proc/%d/cgroup", pid))
		if err != nil {
			return nil, fmt.Errorf("read own cgroup: %w", err)
		}
		origin, err := cgroup2.Load(from)
		if err != nil {
			return nil, fmt.Errorf("load own cgroup %s: %w", from, err)
		}
		back = func() error { return origin.AddProc(uint64(pid)) }
	} else {
		origin, err := cgroup1.Load(cgroup1.PidPath(pid))
		if err != nil {
			return nil, fmt.Errorf("load own cgroup: %w", err)
		}
		back = func() error { return origin.AddProc(uint64(pid)) }
	}
	cg, err := newCgroup(path, res, pid)
	if err != nil {
		return nil, err
	}
	return func() error {
		return errors.Join(back(), cg.delete())
	}, nil
}

// RemoveEmptyCgroups removes the cgroups named prefix* under parent that
// no process is in (those of front ends that crashed in them).
func RemoveEmptyCgroups(parent, prefix string) {
	root := "/sys/fs/cgroup"
	if cgroups.Mode() != cgroups.Unified {
		root = "/sys/fs/cgroup/memory" // every cgroup of ours has one here
	}
	ents, _ := os.ReadDir(filepath.Join(root, parent))
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		procs, err := os.ReadFile(filepath.Join(root, parent, e.Name(), "cgroup.procs"))
		if err == nil && len(strings.TrimSpace(string(procs))) == 0 {
			deleteCgroupOnce(filepath.Join(parent, e.Name()))
		}
	}
}
