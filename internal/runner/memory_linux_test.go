package runner

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMappedMemory: guest memory grows in place (the address never moves,
// nothing is copied), new pages read as zero, and growing past the
// maximum fails; under an address-space limit too small for the
// reservation, the memory still works as a slice.
func TestMappedMemory(t *testing.T) {
	const page = 65536
	m := allocateMapped(page, 64*page)
	b := m.Reallocate(page)
	b[0], b[page-1] = 1, 2
	g := m.Reallocate(10 * page)
	if &g[0] != &b[0] || g[0] != 1 || g[page-1] != 2 || g[10*page-1] != 0 {
		t.Fatal("the memory moved or lost its contents when it grew")
	}
	if m.Reallocate(65*page) != nil {
		t.Error("grew past its maximum")
	}
	m.Free()

	// An address-space limit 512 MiB above what the process uses leaves
	// no room for a 4 GiB reservation.
	var old unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_AS, &old)
	lim := unix.Rlimit{Cur: vmSize(t) + 512<<20, Max: old.Max}
	if err := unix.Setrlimit(unix.RLIMIT_AS, &lim); err != nil {
		t.Skip(err)
	}
	s := allocateMapped(page, 1<<32)
	unix.Setrlimit(unix.RLIMIT_AS, &old)
	if _, ok := s.(*sliceMemory); !ok {
		t.Fatalf("under RLIMIT_AS: %T, want the slice fallback", s)
	}
	if b := s.Reallocate(2 * page); b == nil || len(b) != 2*page || b[2*page-1] != 0 {
		t.Fatalf("the slice fallback: %d bytes", len(b))
	}
	s.Free()
}

// vmSize is the process's virtual size in bytes.
func vmSize(t *testing.T) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmSize:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmSize")
	return 0
}
