package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/wasmrun/wasmrun/oci"
)

func cliRuntime() *oci.Runtime {
	return &oci.Runtime{Root: filepath.Join(stateRoot(), "containers")}
}

// psCmd lists running apps: id, pid, status, namespace, forwards, module.
func psCmd(args []string, stdout, stderr *os.File) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "wasmrun ps: takes no arguments\n")
		return ExitFailure
	}
	rt := cliRuntime()
	ids, err := rt.List()
	if err != nil {
		fmt.Fprintf(stderr, "wasmrun ps: %v\n", err)
		return ExitFailure
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tPID\tSTATUS\tNAMESPACE\tFORWARDS\tMODULE")
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
		if extra.Netns != "" {
			ns = extra.Netns
		}
		if len(extra.Forwards) > 0 {
			fw = strings.Join(extra.Forwards, ",")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", id, pid, s.Status, ns, fw, extra.Module)
	}
	w.Flush()
	return 0
}

// stopCmd stops apps: SIGTERM, then SIGKILL after the grace period. The
// `wasmrun os` that runs the app cleans up once it exits; if that process is
// gone, stop cleans up itself.
func stopCmd(args []string, stdout, stderr *os.File) int {
	var ids []string
	grace := 10 * time.Second
	var positional string
	err := parseFlags(args, &positional, &ids, map[string]flagSpec{
		"time": {value: true, set: func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("--time %q: %v", v, err)
			}
			grace = d
			return nil
		}},
	})
	if positional != "" {
		ids = append([]string{positional}, ids...)
	}
	if err == nil && len(ids) == 0 {
		err = fmt.Errorf("missing ID (usage: wasmrun stop [--time 10s] ID...)")
	}
	if err != nil {
		fmt.Fprintf(stderr, "wasmrun stop: %v\n", err)
		return ExitFailure
	}
	rt := cliRuntime()
	code := 0
	for _, id := range ids {
		if err := rt.Stop(context.Background(), id, syscall.SIGTERM, grace); err != nil {
			fmt.Fprintf(stderr, "wasmrun stop: %v\n", err)
			code = ExitFailure
			continue
		}
		fmt.Fprintln(stdout, id)
	}
	return code
}
