package task

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/log"
	"github.com/wasmrun/wasmrun/internal/atomicfile"
)

// What a task keeps in its bundle, so that the `delete` action (a fresh
// process, after the shim server died) can clean up:
//
//	<bundle>/wasmrun/<id>/state.json   the oci container state
//	<bundle>/wasmrun-exit.json         the exit status, once known
//	<bundle>/init.pid                  the task process's pid
//	<bundle>/rootfs                    the image rootfs, when mounted
const (
	ociRootDir = "wasmrun"
	exitFile   = "wasmrun-exit.json"
	pidFile    = "init.pid"
)

func writePid(bundle string, pid int) error {
	if err := os.WriteFile(filepath.Join(bundle, pidFile), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	return nil
}

func readPid(bundle string) int {
	b, err := os.ReadFile(filepath.Join(bundle, pidFile))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// Exit is how a task process ended.
type Exit struct {
	Pid    int       `json:"pid"`
	Status int       `json:"status"`
	At     time.Time `json:"at"`
}

func writeExit(bundle string, e Exit) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(bundle, exitFile), b, 0o600, ""); err != nil {
		return fmt.Errorf("record exit status: %w", err)
	}
	return nil
}

func readExit(bundle string) (Exit, error) {
	var e Exit
	b, err := os.ReadFile(filepath.Join(bundle, exitFile))
	if err != nil {
		return e, err
	}
	return e, json.Unmarshal(b, &e)
}

// Cleanup removes everything task id left in and around its bundle, the
// way Delete does (removeTask: process killed, namespace, cgroup, rootfs
// mount, oci state, poststop hooks). It is the `delete` action, run with no
// shim server and possibly no daemon; it returns the recorded exit, or
// 128+SIGKILL when none was recorded (the shim died first, so the process
// was killed).
func Cleanup(ctx context.Context, bundle, id string) (Exit, error) {
	ex, err := readExit(bundle)
	if err != nil {
		ex = Exit{Pid: readPid(bundle), Status: 128 + 9, At: time.Now()}
	}
	rt := runtimeOf(ctx, bundle, id, readSavedConfig(bundle))
	// The shim may have died with the task paused: its frozen processes
	// act on no signal (cgroup v1), not even the SIGKILL of their death
	// signal, until thawed.
	rt.Resume(id)
	err = removeTask(ctx, rt, bundle, id)
	if err != nil {
		log.G(ctx).WithError(err).Warn("cleanup incomplete")
	}
	return ex, err
}
