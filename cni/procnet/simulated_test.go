package procnet

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
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
