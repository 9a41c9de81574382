//go:build darwin || windows

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// On macOS and Windows there are no network namespaces: `wasmrun os` runs
// the app in this process under simulated isolation (inprocess.go), and ps
// and stop read the apps' state files.

// systemName is what messages call this system.
var systemName = map[string]string{"darwin": "macOS", "windows": "Windows"}[runtime.GOOS]

// stateRoot is where in-process apps keep their state files;
// WASMRUN_STATE_DIR overrides it.
func stateRoot() string {
	if d := os.Getenv("WASMRUN_STATE_DIR"); d != "" {
		return d
	}
	if runtime.GOOS == "windows" {
		return filepath.Join(os.TempDir(), "wasmrun") // the user's own TEMP
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("wasmrun-%d", os.Getuid()))
}

func runOS(o *osOpts, stdin, stdout, stderr *os.File) (int, error) {
	a, err := resolveApp(o)
	if err != nil {
		return 0, err
	}
	if a.isolation && !a.simulated {
		a.simulated = true
		if o.verbose {
			fmt.Fprintf(stderr, "wasmrun: no network namespaces on %s: the app gets simulated isolation\n", systemName)
		}
	}
	return runInProcess(context.Background(), a, o, stateRoot(), false, stdin, stdout, stderr)
}

func psCmd(args []string, stdout, stderr *os.File) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "wasmrun ps: takes no arguments\n")
		return ExitFailure
	}
	psInProcess(stateRoot(), stdout)
	return 0
}

func stopCmd(args []string, stdout, stderr *os.File) int {
	return stopCmdWith(args, stdout, stderr, func(id string, grace time.Duration) error {
		found, err := stopInProcess(stateRoot(), id, grace)
		switch {
		case err != nil:
			return fmt.Errorf("%s: %v", id, err)
		case !found:
			return fmt.Errorf("no app named %s is running", id)
		}
		return nil
	})
}
