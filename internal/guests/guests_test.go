package guests

import (
	"bytes"
	"errors"
	"os"
	"sync"
	"testing"
)

// TestBuild builds one guest per language, checks the output is a wasm
// module, and that concurrent and repeated requests share one cached file.
func TestBuild(t *testing.T) {
	builders := map[string]func() (string, error){
		"go":   func() (string, error) { return BuildGo("args_env_exit") },
		"c":    func() (string, error) { return BuildC("args_env_exit") },
		"rust": func() (string, error) { return BuildRust("args_env_exit") },
	}
	for lang, build := range builders {
		t.Run(lang, func(t *testing.T) {
			var wg sync.WaitGroup
			paths := make([]string, 3)
			errs := make([]error, 3)
			for i := range paths {
				wg.Add(1)
				go func() {
					defer wg.Done()
					paths[i], errs[i] = build()
				}()
			}
			wg.Wait()
			// must skips or fails the way every caller sees it.
			must(t, func() (string, error) { return paths[0], errors.Join(errs...) })
			for _, p := range paths[1:] {
				if p != paths[0] {
					t.Fatalf("concurrent builds gave different files: %q", paths)
				}
			}
			b, err := os.ReadFile(paths[0])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, []byte("\x00asm\x01\x00\x00\x00")) {
				t.Fatalf("%s is not a wasm module", paths[0])
			}
			st, _ := os.Stat(paths[0])
			if again := must(t, build); again != paths[0] {
				t.Fatalf("second build gave %s, want cached %s", again, paths[0])
			}
			st2, _ := os.Stat(paths[0])
			if !st2.ModTime().Equal(st.ModTime()) {
				t.Fatalf("cached module was rebuilt")
			}
		})
	}
}

// TestCacheKeyChanges checks that the key covers the build arguments.
func TestCacheKeyChanges(t *testing.T) {
	a, err := cacheKey("c", "cat", "clang", []string{"-O2"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := cacheKey("c", "cat", "clang", []string{"-O0"})
	c, _ := cacheKey("c", "cat", "clang 2", []string{"-O2"})
	if a == b || a == c {
		t.Fatalf("keys should differ: %s %s %s", a, b, c)
	}
}
