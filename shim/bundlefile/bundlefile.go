// Package bundlefile is what a task keeps in its bundle directory, so that a
// fresh process (the `delete` action, after the shim server is gone) can
// tell how the task ended and whether anything is left to clean up:
//
//	<bundle>/wasmrun/<id>/state.json   the oci container state (OCIRoot)
//	<bundle>/wasmrun-exit.json         the exit status, once known
//	<bundle>/init.pid                  the task process's pid
//	<bundle>/wasmrun-removed           the task's removal finished
//
// It is shared by the shim server (package task, which writes them) and the
// shim binary's lean actions (package manager, which reads them), and
// imports nothing of containerd.
package bundlefile

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/wasmrun/wasmrun/internal/atomicfile"
)

const (
	// OCIRoot is the oci state root inside a bundle.
	OCIRoot = "wasmrun"

	exitFile    = "wasmrun-exit.json"
	pidFile     = "init.pid"
	removedFile = "wasmrun-removed"
)

// Exit is how a task process ended.
type Exit struct {
	Pid    int       `json:"pid"`
	Status int       `json:"status"`
	At     time.Time `json:"at"`
}

// WriteExit records the task's exit.
func WriteExit(dir string, e Exit) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, exitFile), b, 0o600, ""); err != nil {
		return fmt.Errorf("record exit status: %w", err)
	}
	return nil
}

// readExit returns the recorded exit.
func readExit(dir string) (Exit, error) {
	var e Exit
	b, err := os.ReadFile(filepath.Join(dir, exitFile))
	if err != nil {
		return e, err
	}
	return e, json.Unmarshal(b, &e)
}

// ExitOrKilled is the recorded exit, or, when none was recorded (the
// server died first, so its task process was killed), 128+SIGKILL now.
func ExitOrKilled(dir string) Exit {
	if e, err := readExit(dir); err == nil {
		return e
	}
	return Exit{Pid: ReadPid(dir), Status: 128 + 9, At: time.Now()}
}

// WritePid records the task process's pid.
func WritePid(dir string, pid int) error {
	if err := os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	return nil
}

// ReadPid returns the recorded pid, or 0.
func ReadPid(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, pidFile))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// MarkRemoved records that everything the task had outside the bundle
// (process, namespaces, cgroup, mounts, oci state) is gone. It is written
// only after a removal that left nothing, so a process killed at any
// instant of the removal leaves no mark and the next `delete` action
// does the whole cleanup again.
func MarkRemoved(dir string) error {
	if err := atomicfile.Write(filepath.Join(dir, removedFile), nil, 0o600, ""); err != nil {
		return fmt.Errorf("mark the task removed: %w", err)
	}
	return nil
}

// ClearRemoved takes the mark away: a task is being created in dir.
func ClearRemoved(dir string) error {
	if err := os.Remove(filepath.Join(dir, removedFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("clear the removal mark: %w", err)
	}
	return nil
}

// Removed reports whether the task in dir was removed completely.
func Removed(dir string) bool {
	fi, err := os.Lstat(filepath.Join(dir, removedFile))
	return err == nil && fi.Mode().IsRegular()
}
