package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/wasmrun/wasmrun/internal/names"
	"github.com/wasmrun/wasmrun/internal/runner"
)

// LoadSpec reads <bundle>/config.json.
func LoadSpec(bundle string) (*specs.Spec, error) {
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("read bundle spec: %w", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(bundle, "config.json"), err)
	}
	return &s, nil
}

// RootPath returns the spec's root directory as a host path (relative roots
// are relative to the bundle).
func RootPath(bundle string, s *specs.Spec) string {
	if s.Root == nil || s.Root.Path == "" {
		return filepath.Join(bundle, "rootfs")
	}
	if filepath.IsAbs(s.Root.Path) {
		return filepath.Clean(s.Root.Path)
	}
	return filepath.Join(bundle, s.Root.Path)
}

// Module is the wasm module a spec asks to run.
type Module struct {
	// HostPath is the module file on the host.
	HostPath string
	// GuestPath is process.args[0] without the #export suffix.
	GuestPath string
	// Export is the function to call: "_start" unless args[0] ends in #name.
	Export string
}

// ResolveModule finds process.args[0] inside the root. "path#export" picks
// an export other than _start. The module must stay inside the root: a path
// or symlink that leads out of it is an error.
func ResolveModule(root string, s *specs.Spec) (Module, error) {
	m, err := ModulePath(root, s)
	if err != nil {
		return Module{}, err
	}
	st, err := os.Stat(m.HostPath)
	if err != nil {
		return Module{}, fmt.Errorf("module %s not found in the container root %s", m.GuestPath, root)
	}
	if !st.Mode().IsRegular() {
		return Module{}, fmt.Errorf("module %s in the container root is not a regular file", m.GuestPath)
	}
	if st.Size() > runner.MaxModuleSize {
		return Module{}, fmt.Errorf("module %s is %d MiB, more than wasmrun loads (%d MiB)", m.GuestPath, st.Size()>>20, runner.MaxModuleSize>>20)
	}
	return m, nil
}

// ModulePath is ResolveModule without the check that the module exists:
// where process.args[0] (relative to process.cwd, symlinks followed inside
// root) lands on the host, for a caller that is about to write it there.
func ModulePath(root string, s *specs.Spec) (Module, error) {
	if s.Process == nil || len(s.Process.Args) == 0 || s.Process.Args[0] == "" {
		return Module{}, errors.New("spec has no process.args: nothing to run")
	}
	arg := s.Process.Args[0]
	m := Module{Export: "_start"}
	if p, export, ok := strings.Cut(arg, "#"); ok {
		if export == "" {
			return Module{}, fmt.Errorf("module %q: empty export name after #", arg)
		}
		arg, m.Export = p, export
	}
	m.GuestPath = arg
	rel := arg
	if !filepath.IsAbs(rel) {
		cwd := "/"
		if s.Process.Cwd != "" {
			cwd = s.Process.Cwd
		}
		rel = filepath.Join(cwd, rel)
	}
	host, err := resolveInRoot(root, rel)
	if err != nil {
		return Module{}, fmt.Errorf("module %s: %w", arg, err)
	}
	m.HostPath = host
	return m, nil
}

// resolveInRoot resolves an absolute guest path inside root, following
// symlinks as if root were "/": a symlink can never lead out of root.
func resolveInRoot(root, guest string) (string, error) {
	// Clean, as every path it becomes on the way is: "..", which stops
	// at root, must recognise it (a root of "/r/" or "/r/./" did not
	// equal its clean self, and a link of d/../../x left it).
	root = filepath.Clean(root)
	parts := strings.Split(filepath.Clean("/"+guest), "/")
	cur := root
	links := 0
	for i := 0; i < len(parts); i++ {
		p := parts[i]
		if p == "" || p == "." {
			continue
		}
		if p == ".." {
			if cur != root {
				cur = filepath.Dir(cur)
			}
			continue
		}
		next := filepath.Join(cur, p)
		st, err := os.Lstat(next)
		if err != nil || st.Mode()&os.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > 40 {
			return "", errors.New("too many levels of symbolic links")
		}
		target, err := os.Readlink(next)
		if err != nil {
			return "", err
		}
		rest := parts[i+1:]
		if filepath.IsAbs(target) {
			cur = root
		}
		parts = append(strings.Split(target, "/"), rest...)
		i = -1
	}
	return cur, nil
}

// Preopen maps a host directory to a guest path.
type Preopen struct {
	HostPath, GuestPath string
	ReadOnly            bool
}

// Preopens returns the directories the guest sees: the root as "/", then
// every bind mount whose source is a directory, at its destination. (The
// WASI layer opens nothing on procfs, sysfs or cgroupfs for writing,
// whatever the preopen.)
func Preopens(root string, s *specs.Spec) []Preopen {
	out := []Preopen{{HostPath: root, GuestPath: "/", ReadOnly: s.Root != nil && s.Root.Readonly}}
	for _, m := range s.Mounts {
		if m.Type != "bind" && !slices.Contains(m.Options, "bind") && !slices.Contains(m.Options, "rbind") {
			continue
		}
		st, err := os.Stat(m.Source)
		if err != nil || !st.IsDir() {
			continue
		}
		out = append(out, Preopen{HostPath: m.Source, GuestPath: m.Destination, ReadOnly: slices.Contains(m.Options, "ro")})
	}
	return out
}

// Env returns process.env with PWD set to the working directory when the
// spec does not set it (WASI has no cwd; wasi-libc and Go read PWD).
func Env(s *specs.Spec) []string {
	env := slices.Clone(s.Process.Env)
	cwd := s.Process.Cwd
	if cwd == "" {
		cwd = "/"
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, "PWD=") {
			return env
		}
	}
	return append(env, "PWD="+cwd)
}

// RuntimeMemory is what the container process needs beside the guest's
// linear memory: compiled code and the runtime's own heap (measured 15-40
// MiB for Go and C guests).
const RuntimeMemory = 64 << 20

// GuestMemory is the cap on the guest's linear memory under the spec's
// memory limit: the limit less the runtime's share (at most half of it),
// so that a guest that takes all it can meets a failing memory.grow, not
// the kernel's OOM killer. 0 for no limit.
func GuestMemory(s *specs.Spec) int64 {
	l := MemoryLimit(s)
	return l - min(RuntimeMemory, l/2)
}

// MemoryLimit returns the spec's memory limit in bytes, or 0.
func MemoryLimit(s *specs.Spec) int64 {
	if s.Linux == nil || s.Linux.Resources == nil || s.Linux.Resources.Memory == nil || s.Linux.Resources.Memory.Limit == nil {
		return 0
	}
	if l := *s.Linux.Resources.Memory.Limit; l > 0 {
		return l
	}
	return 0
}

// ValidateID checks a container id is safe as a file and namespace name.
func ValidateID(id string) error {
	if !names.Valid(id, 128, "_.-", false) {
		return fmt.Errorf("invalid container id %q: use letters, digits, '_', '.', '-' (at most 128)", id)
	}
	return nil
}
