package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/wasmrun/wasmrun/oci"
)

// cliRuntime is the runtime of the CLI's state root. Its network
// configuration lets it remove the namespace of an app whose `wasmrun os`
// is gone (found by the name recorded at create, whatever its prefix; the
// saved CNI state carries everything else DEL needs).
func cliRuntime() *oci.Runtime {
	root := stateRoot()
	return &oci.Runtime{Root: filepath.Join(root, "containers"), Network: netConfig(root)}
}

// psCmd lists running apps: id, pid, status, instances, namespace,
// forwards, module.
func psCmd(args []string, stdout, stderr *os.File) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "wasmrun ps: takes no arguments\n")
		return ExitFailure
	}
	if err := checkStateRoot(stateRoot()); err != nil {
		fmt.Fprintf(stderr, "wasmrun ps: %v\n", err)
		return ExitFailure
	}
	rt := cliRuntime()
	ids, err := rt.List()
	if err != nil {
		fmt.Fprintf(stderr, "wasmrun ps: %v\n", err)
		return ExitFailure
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tPID\tSTATUS\tINSTANCES\tNAMESPACE\tFORWARDS\tMODULE")
	for _, id := range ids {
		s, err := rt.State(id)
		if err != nil {
			continue
		}
		var extra osExtra
		if raw, err := rt.Extra(id); err == nil && raw != nil {
			json.Unmarshal(raw, &extra)
		}
		pid, ns, fw := "-", "-", "-"
		if s.Pid > 0 {
			pid = fmt.Sprint(s.Pid)
		}
		if rec, err := rt.NetworkOf(id); err == nil {
			switch {
			case rec.Name != "":
				ns = rec.Name
			case rec.Mode == oci.NetRootless:
				ns = "rootless" // its own user+network namespace, no name
				if s.Pid > 0 {
					ns = "rootless:" + rec.Path
				}
			case rec.Mode == oci.NetSimulated:
				ns = simulatedColumn(rt, id)
			case rec.Path != "":
				ns = rec.Path
			}
		}
		if len(extra.Forwards) > 0 {
			fw = strings.Join(extra.Forwards, ",")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", id, pid, s.Status, max(extra.Instances, 1), ns, fw, extra.Module)
	}
	w.Flush()
	return 0
}

// simulatedColumn is the NAMESPACE of an app with simulated isolation:
// "simulated", then the ports it holds and their host sockets, e.g.
// simulated:8080/tcp=127.0.0.1:41234.
func simulatedColumn(rt *oci.Runtime, id string) string {
	ports, err := rt.PortsOf(id)
	if err != nil || len(ports) == 0 {
		return "simulated"
	}
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = p.String()
	}
	return "simulated:" + strings.Join(s, ",")
}

// stopCmd stops apps: SIGTERM, then SIGKILL after the grace period. The
// `wasmrun os` that runs the app cleans up once it exits; if that process is
// gone, stop cleans up itself.
func stopCmd(args []string, stdout, stderr *os.File) int {
	return stopCmdWith(args, stdout, stderr, func(id string, grace time.Duration) error {
		if err := checkStateRoot(stateRoot()); err != nil {
			return err
		}
		rt := cliRuntime()
		if err := rt.Stop(context.Background(), id, syscall.SIGTERM, grace); err != nil {
			return err
		}
		if waitDeleted(rt, id, grace) {
			// The bundle of a `wasmrun os` that died before removing it.
			removeBundle(filepath.Join(stateRoot(), "bundles", id))
		}
		return nil
	})
}

// netConfig is where the CLI keeps network state under its state
// root, shared by `wasmrun os` and `wasmrun stop`.
func netConfig(root string) oci.NetworkConfig {
	return oci.NetworkConfig{
		StateDir: filepath.Join(root, "netns"),
		CacheDir: filepath.Join(root, "cni-cache"),
		Bridge:   oci.BridgeConfig{IPAMDataDir: filepath.Join(root, "ipam")},
	}
}

// waitDeleted waits (up to timeout) until the `wasmrun os` that runs app id
// has torn it down, so that when stop returns, the namespace, forwards and
// state are gone. If that process dies before it finishes, the next Stop
// or run cleans up.
// It reports whether the app is gone.
func waitDeleted(rt *oci.Runtime, id string, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		// Stop of a stopped app only deletes it if its creator is gone.
		if err := rt.Stop(context.Background(), id, syscall.SIGKILL, 0); errors.Is(err, oci.ErrNotFound) {
			return true
		}
	}
	return false
}
