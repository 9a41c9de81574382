package initproc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// LimitWrite is one write of a cgroup control file: Value into File.
type LimitWrite struct {
	File  string `json:"file"`
	Value int64  `json:"value"`
}

// lowerMemory makes the writes that bring the process's memory cgroup
// down to the container's limits, once the module is compiled or loaded
// and before any of the guest's code runs (its start function included):
// the creator made the cgroup with room for compiling, which takes many
// times the module's size for a while. The garbage of compiling goes back
// to the system first. What remains (the compiled code, the runtime) must
// fit the limit: if it does not, the container fails with one line that
// says so, instead of the OOM killer ending it.
func lowerMemory(writes []LimitWrite) error {
	if len(writes) == 0 {
		return nil
	}
	debug.FreeOSMemory()
	for _, w := range writes {
		if filepath.Base(w.File) == "memory.max" {
			// cgroup v2 reclaims, then kills, to meet a lower
			// memory.max: look first.
			if used, err := readInt(filepath.Join(filepath.Dir(w.File), "memory.current")); err == nil && used > w.Value {
				return tooBig(used, w.Value)
			}
		}
		err := os.WriteFile(w.File, []byte(strconv.FormatInt(w.Value, 10)), 0)
		if errors.Is(err, unix.EBUSY) { // v1: more in use than the new limit
			used, _ := readInt(filepath.Join(filepath.Dir(w.File), "memory.usage_in_bytes"))
			return tooBig(used, w.Value)
		}
		if err != nil {
			return fmt.Errorf("memory limit after loading the module: %w", err)
		}
	}
	return nil
}

func tooBig(used, limit int64) error {
	return fmt.Errorf("the module, compiled, and the runtime use %d MiB, more than the container's memory limit (%d MiB): give it more memory", used>>20, limit>>20)
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// Sysctl is one kernel parameter the process sets in its namespaces:
// Key as in sysctl(8) (net.ipv4.ip_forward), Value as written.
type Sysctl struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// setSysctls writes each sysctl under /proc/sys, in the namespaces the
// process is in (the creator allowed only sysctls of namespaces of its
// own: oci). It runs before anything else and before the process gives up
// its privileges.
func setSysctls(sysctls []Sysctl) error {
	for _, s := range sysctls {
		file := filepath.Join("/proc/sys", strings.ReplaceAll(s.Key, ".", "/"))
		if err := os.WriteFile(file, []byte(s.Value), 0); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", s.Key, s.Value, err)
		}
	}
	return nil
}
