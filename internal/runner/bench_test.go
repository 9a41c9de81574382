package runner

import (
	"context"
	"os"
	"testing"
)

// BenchmarkStart is one start of the small C guest in this process: Prepare
// (runtime, cache read or compile) and Run (host module, instantiate, run).
func BenchmarkStart(b *testing.B) {
	wasm := buildC(b)
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devnull.Close()
	for _, cached := range []bool{false, true} {
		name := "no-cache"
		opts := Options{Path: wasm, Stdout: devnull}
		if cached {
			name = "warm-cache"
			opts.CacheDir = b.TempDir()
			if _, err := Run(context.Background(), opts); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if code, err := Run(context.Background(), opts); err != nil || code != 42 {
					b.Fatalf("Run = %d, %v", code, err)
				}
			}
		})
	}
}

// BenchmarkPrepareLarge is Prepare of the ~2.5 MB Go guest from a warm
// cache: decoding the module and loading its machine code.
func BenchmarkPrepareLarge(b *testing.B) {
	opts := Options{Path: buildGo(b), CacheDir: b.TempDir()}
	prepare(b, opts)
	for i := 0; i < b.N; i++ {
		prepare(b, opts)
	}
}
