package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/oci"
)

// TestBundleCrash: the bundle of a run that died at any instant (nobody
// holds its lock) never blocks its name: the next run of the name takes it
// over, emptied, and a start-up sweep removes it with the app's /tmp; a
// bundle that a live run holds is neither taken nor removed, and neither
// is one whose app has a container.
func TestBundleCrash(t *testing.T) {
	tmpDir := t.TempDir()
	t.Setenv("TMPDIR", tmpDir)
	t.Cleanup(func() { // the apps' /tmp mounts left, before tmpDir goes
		ents, _ := os.ReadDir(tmpDir)
		for _, e := range ents {
			unix.Unmount(filepath.Join(tmpDir, e.Name()), unix.MNT_DETACH)
		}
	})
	root := t.TempDir()
	bundles := filepath.Join(root, "bundles")
	rt := &oci.Runtime{Root: filepath.Join(root, "containers")}
	me := specs.User{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}

	// dead makes the bundle of app name as a run killed once it had made
	// it would leave it (no lock held), and returns the app's /tmp.
	dead := func(name string) string {
		dir := filepath.Join(bundles, name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		tmp, _, err := appTmp(dir, me, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if err := writeBundle(dir, &specs.Spec{}); err != nil {
			t.Fatal(err)
		}
		return tmp
	}
	exists := func(p string) bool { _, err := os.Lstat(p); return err == nil }

	// The next run of the name takes the dead run's bundle over, emptied.
	oldTmp := dead("again")
	release, err := claimBundle(filepath.Join(bundles, "again"), "again")
	if err != nil {
		t.Fatalf("claim a dead run's bundle: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(bundles, "again")); len(ents) != 0 || exists(oldTmp) {
		t.Errorf("the claimed bundle holds %v; the dead run's /tmp exists: %v", ents, exists(oldTmp))
	}
	if mounted(oldTmp) {
		t.Errorf("the dead run's /tmp is still mounted at %s", oldTmp)
	}
	newTmp, limited, err := appTmp(filepath.Join(bundles, "again"), me, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if limited != (os.Geteuid() == 0) || limited != mounted(newTmp) {
		t.Errorf("the app's /tmp: limited %v, mounted %v (root: %v)", limited, mounted(newTmp), os.Geteuid() == 0)
	}
	// Its files are bounded too, not only its bytes: empty files would
	// pin kernel memory past its size.
	var fs unix.Statfs_t
	if err := unix.Statfs(newTmp, &fs); limited && (err != nil || fs.Files != uint64(tmpInodes(1<<20))) {
		t.Errorf("the app's /tmp holds %d files (%v), want %d", fs.Files, err, tmpInodes(1<<20))
	}

	// A live run's bundle: a second run of its name is refused.
	if _, err := claimBundle(filepath.Join(bundles, "again"), "again"); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("a second claim of a held bundle: %v, want already running", err)
	}

	// The sweep: a dead run's bundle goes with its /tmp; a held one and
	// one whose app has a container stay.
	sweptTmp := dead("swept")
	dead("contained")
	if err := os.MkdirAll(filepath.Join(rt.Root, "contained"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rt.Root, "contained", "state.json"), []byte(`{"id": "contained"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	sweepBundles(bundles, rt)
	if exists(filepath.Join(bundles, "swept")) || exists(sweptTmp) {
		t.Errorf("the sweep left a dead run's bundle or /tmp")
	}
	for _, p := range []string{filepath.Join(bundles, "again"), newTmp, filepath.Join(bundles, "contained")} {
		if !exists(p) {
			t.Errorf("the sweep removed %s", p)
		}
	}

	release()
	if exists(filepath.Join(bundles, "again")) || exists(newTmp) {
		t.Errorf("release left the bundle or its /tmp")
	}
}

// mounted reports whether something is mounted at dir.
func mounted(dir string) bool {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}
