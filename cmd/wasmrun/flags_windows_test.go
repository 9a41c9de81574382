package main

import (
	"path/filepath"
	"testing"
)

// TestParseDirWindows: a host path's volume colon is not the HOST:GUEST
// separator, and the guest path defaults to the rest with slashes.
func TestParseDirWindows(t *testing.T) {
	dir := t.TempDir() // C:\...\Temp\...
	vol := filepath.VolumeName(dir)
	p, err := parseDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.ToSlash(dir[len(vol):]); p.HostPath != dir || p.GuestPath != want || p.ReadOnly {
		t.Errorf("parseDir(%q) = %+v, want host %q, guest %q", dir, p, dir, want)
	}
	p, err = parseDir(dir + ":/data:ro")
	if err != nil {
		t.Fatal(err)
	}
	if p.HostPath != dir || p.GuestPath != "/data" || !p.ReadOnly {
		t.Errorf("parseDir(%q) = %+v", dir+":/data:ro", p)
	}
}
