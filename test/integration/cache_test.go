package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// TestCacheBound: the compiled-module cache stays within WASMRUN_CACHE_MAX
// however many distinct modules are compiled into it (a node that runs
// new image versions for months, or a user who deploys many modules to
// fill its disk): once a new entry is added, the least recently used ones
// go. Here the first module's entry is made two hours old, and the bound
// holds one entry.
func TestCacheBound(t *testing.T) {
	t.Parallel()
	cache := t.TempDir()
	runWith := func(module string, max int64) {
		t.Helper()
		args := []string{"run", "--cache-dir", cache, module}
		r := runCommand(t, runTimeout, args, func(ctx context.Context) *exec.Cmd {
			cmd := command(ctx, args...)
			if max > 0 {
				cmd.Env = append(cmd.Env, "WASMRUN_CACHE_MAX="+strconv.FormatInt(max, 10))
			}
			return cmd
		})
		mustExit(t, r, 0)
	}
	entries := func() map[string]int64 {
		m := map[string]int64{}
		subs, _ := filepath.Glob(filepath.Join(cache, "wazero-*"))
		for _, s := range subs {
			ents, _ := os.ReadDir(s)
			for _, e := range ents {
				if fi, err := e.Info(); err == nil {
					m[filepath.Join(s, e.Name())] = fi.Size()
				}
			}
		}
		return m
	}
	runWith(guests.C(t, "args_env_exit"), 0)
	first := entries()
	if len(first) != 1 {
		t.Fatalf("after one module: cache entries %v, want 1", first)
	}
	old := time.Now().Add(-2 * time.Hour)
	var firstSize int64
	for p, n := range first {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
		firstSize = n
	}
	runWith(guests.C(t, "cat"), firstSize+1)
	after := entries()
	for p := range first {
		if _, ok := after[p]; ok {
			t.Errorf("the least recently used entry %s stayed over the bound", p)
		}
	}
	if len(after) != 1 {
		t.Errorf("after the second module: cache entries %v, want its own only", after)
	}
}
