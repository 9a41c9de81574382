package procnet

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"
)

// TestPortsFile: a table written over a longer one reads back as itself;
// an empty file is no table yet; a file without its end is an error.
func TestPortsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ports")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, err := ReadPorts(path); err != nil || got != nil {
		t.Errorf("empty file: %v %v, want no table", got, err)
	}
	long := []Port{
		{"tcp", 8080, netip.MustParseAddrPort("127.0.0.1:41000")},
		{"tcp", 8080, netip.MustParseAddrPort("[::1]:41001")},
		{"udp", 53, netip.MustParseAddrPort("127.0.0.1:41002")},
	}
	for _, tab := range [][]Port{long, long[2:], nil} {
		if err := WritePorts(f, tab); err != nil {
			t.Fatal(err)
		}
		got, err := ReadPorts(path)
		if err != nil || !slices.Equal(got, tab) {
			t.Errorf("read %v %v, want %v", got, err, tab)
		}
	}
	if err := os.WriteFile(path, []byte("tcp 8080 127.0.0.1:41000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadPorts(path); err == nil {
		t.Errorf("a table without its end read as %v", got)
	}
	if s := long[1].String(); s != "8080/tcp=[::1]:41001" {
		t.Errorf("String() = %q", s)
	}
}

// TestPortsFileRefused: what a process taken over by its guest could put
// where `wasmrun ps` reads its table: a FIFO with no writer (an open that
// would wait for good), a pipe's other end, or a table of 64 MiB; each
// is refused at once.
func TestPortsFileRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	big := filepath.Join(dir, "big")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(64 << 20) // sparse: no disk
	f.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := ReadPorts(big); err == nil {
		t.Errorf("a table of 64 MiB read")
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Errorf("reading a table of 64 MiB allocated %d MiB", grew>>20)
	}
	for _, path := range []string{fmt.Sprintf("/proc/self/fd/%d", r.Fd()), fifo} {
		done := make(chan error, 1)
		go func() { _, err := ReadPorts(path); done <- err }()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("%s read as a port table", path)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("ReadPorts(%s) still waits after 10s", path)
		}
	}
}
