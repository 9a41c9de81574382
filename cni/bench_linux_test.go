package cni

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// BenchmarkLoopback measures Setup+Teardown of a loopback-only namespace
// (no CNI exec).
func BenchmarkLoopback(b *testing.B) {
	if !benchRoot(b) {
		return
	}
	dir := b.TempDir()
	m, err := New(Config{Prefix: "wrtbench", StateDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var setup, teardown time.Duration
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		n, err := m.Setup(ctx, Request{Mode: ModeNew, ID: fmt.Sprint(i)})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := n.Teardown(ctx); err != nil {
			b.Fatal(err)
		}
		setup += t1.Sub(t0)
		teardown += time.Since(t1)
	}
	b.ReportMetric(float64(setup.Microseconds())/float64(b.N), "setup-µs/op")
	b.ReportMetric(float64(teardown.Microseconds())/float64(b.N), "teardown-µs/op")
}

func benchRoot(b *testing.B) bool {
	if os.Geteuid() != 0 {
		b.Skip("needs root: creates network namespaces")
		return false
	}
	return true
}
