package runner

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCacheReadOnly uses a read-only tmpfs as the cache dir (root ignores
// permission bits, not a read-only mount). With the entry already there the
// run is quiet; without it, the run compiles, cannot write the entry, warns
// once and still runs.
func TestCacheReadOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: mounting a read-only tmpfs needs root")
	}
	wasm := buildC(t)
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=16m,mode=0700"); err != nil {
		t.Skipf("skipping: cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	var diag bytes.Buffer
	opts := Options{Path: wasm, CacheDir: dir, Diag: &diag}
	prepare(t, opts) // writes the entry
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount %s read-only: %v", dir, err)
	}

	t.Run("warm", func(t *testing.T) {
		diag.Reset()
		runHello(t, opts)
		if diag.Len() != 0 {
			t.Errorf("a read-only warm cache is not quiet: %q", diag.String())
		}
	})
	t.Run("miss", func(t *testing.T) {
		// A custom section makes another module with the same code.
		b, err := os.ReadFile(wasm)
		if err != nil {
			t.Fatal(err)
		}
		o := opts
		o.Wasm = append(b, 0x00, 0x05, 0x03, 'x', 'y', 'z', 0x01)
		diag.Reset()
		runHello(t, o)
		if l := lines(&diag); len(l) != 1 || !strings.Contains(l[0], "warning") || !strings.Contains(l[0], "read-only") {
			t.Errorf("diagnostics %q: want one warning about a read-only file system", l)
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		for p := range cacheEntries(t, dir) {
			// An empty file over the entry, which cannot be removed.
			if err := unix.Mount("/dev/null", p, "", unix.MS_BIND, ""); err != nil {
				t.Fatalf("bind-mount over %s: %v", p, err)
			}
			t.Cleanup(func() { unix.Unmount(p, unix.MNT_DETACH) })
		}
		diag.Reset()
		runHello(t, opts)
		if l := lines(&diag); len(l) != 1 || !strings.Contains(l[0], "warning") || !strings.Contains(l[0], "corrupt") {
			t.Errorf("diagnostics %q: want one warning about a corrupt cache", l)
		}
	})
}
