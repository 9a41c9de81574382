package runner

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// countC counts its runs in a global (its linear memory) and prints the
// count with its instance number.
const countC = `#include <stdio.h>
#include <stdlib.h>
static int runs;
int main(void) {
	runs++;
	printf("instance %s run %d\n", getenv("WASMRUN_INSTANCE"), runs);
	return 7;
}
`

var countGuest built

// TestInstances runs instances of one prepared module, at the same time
// and one after another: each gets its number and a memory of its own
// (every run counts 1), and an instance can be made again under the number
// of one that ended (a replacement).
func TestInstances(t *testing.T) {
	path := countGuest.get(t, func(dir string) (string, string, error) {
		clang, err := exec.LookPath("clang-14")
		if err != nil {
			return "", "clang-14 is missing (install clang-14 and wasi-libc)", nil
		}
		src, out := filepath.Join(dir, "count.c"), filepath.Join(dir, "count.wasm")
		if err := os.WriteFile(src, []byte(countC), 0o644); err != nil {
			return "", "", err
		}
		return out, "", runCmd(t, exec.Command(clang, "--target=wasm32-wasi", "-O2", "-o", out, src))
	})
	ctx := context.Background()
	stdout, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	// The app's own WASMRUN_INSTANCE gives way to the instance's number.
	p, err := Prepare(ctx, Options{Path: path, Stdout: stdout, Env: []string{"WASMRUN_INSTANCE=9"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	var wg sync.WaitGroup
	for k := range 3 {
		inst, err := p.Instance(ctx, k, InstanceHooks{})
		if err != nil {
			t.Fatalf("instance %d: %v", k, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, err := inst.Run(ctx); code != 7 || err != nil {
				t.Errorf("instance %d: exit %d, %v; want 7", k, code, err)
			}
		}()
	}
	wg.Wait()
	again, err := p.Instance(ctx, 1, InstanceHooks{})
	if err != nil {
		t.Fatalf("instance 1 again: %v", err)
	}
	if code, err := again.Run(ctx); code != 7 || err != nil {
		t.Errorf("instance 1 again: exit %d, %v; want 7", code, err)
	}
	b, err := os.ReadFile(stdout.Name())
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSpace(string(b)), "\n")
	slices.Sort(got)
	want := []string{"instance 0 run 1", "instance 1 run 1", "instance 1 run 1", "instance 2 run 1"}
	if !slices.Equal(got, want) {
		t.Errorf("output %q, want (in any order) %q", got, want)
	}
}
