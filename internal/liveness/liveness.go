// Package liveness tells whether a process recorded earlier still runs.
// A pid alone does not say: pids are reused. A process is recorded with
// its start time (field 22 of /proc/<pid>/stat, clock ticks since boot),
// which a new process with the same pid does not have.
//
// Every record of an owner or a container process in wasmrun's state
// (oci's state.json, cni's namespace state, the names of their temporary
// files) is checked here, so they all agree on one rule: a process that
// has exited is dead, also while it is a zombie nobody has reaped yet.
package liveness

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// StartTime returns the start time of process pid. A process that does not
// exist, or has exited (a zombie), has none: it returns an error.
func StartTime(pid int) (uint64, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("no process %d", pid)
	}
	if pid == os.Getpid() {
		return self()
	}
	return read(pid)
}

// Alive reports whether process pid, recorded with start time start, still
// runs.
func Alive(pid int, start uint64) bool {
	now, err := StartTime(pid)
	return err == nil && now == start
}

// self is this process's start time, which never changes; reading
// /proc/<pid>/stat costs 60-140 µs on a busy machine, and records of the
// caller as an owner are frequent.
var self = sync.OnceValues(func() (uint64, error) { return read(os.Getpid()) })

func read(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("start time of process %d: %w", pid, err)
	}
	// comm (field 2) may contain spaces and ')': fields resume after the
	// last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f)+2)
	}
	if f[0] == "Z" || f[0] == "X" {
		return 0, fmt.Errorf("process %d has exited", pid)
	}
	v, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat starttime: %w", pid, err)
	}
	return v, nil
}
