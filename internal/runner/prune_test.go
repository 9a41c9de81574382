package runner

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestPruneCache: the least recently used entries go first (by the later
// of access and modification time), until the cache fits its bound;
// entries of the last minute, and temporary files of a compile in
// progress, stay; a dead compile's old temporary file goes.
func TestPruneCache(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "wazero-v1.12.0-amd64-linux")
	old := filepath.Join(dir, "wazero-v1.11.0-amd64-linux")
	now := time.Now()
	type entry struct {
		dir, name string
		size      int
		mtime     time.Duration // before now
		atime     time.Duration
	}
	for _, e := range []entry{
		{sub, "a", 100, 10 * time.Hour, 10 * time.Hour},
		{sub, "b", 100, 20 * time.Hour, time.Hour}, // read an hour ago
		{sub, "c", 100, 5 * time.Hour, 5 * time.Hour},
		{old, "d", 100, 30 * time.Hour, 30 * time.Hour},
		{sub, "new", 500, 10 * time.Second, 10 * time.Second}, // just compiled
		{sub, "x.123.tmp", 50, 10 * time.Second, 10 * time.Second},
		{sub, "y.456.tmp", 50, 2 * time.Hour, 2 * time.Hour},
	} {
		if err := os.MkdirAll(e.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(e.dir, e.name)
		if err := os.WriteFile(p, make([]byte, e.size), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-e.atime), now.Add(-e.mtime)); err != nil {
			t.Fatal(err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	pruneCache(root, []string{filepath.Base(sub), filepath.Base(old)}, 700, now)
	var left []string
	for _, d := range []string{sub, old} {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			left = append(left, e.Name())
		}
	}
	slices.Sort(left)
	// 900 bytes of entries: d (30 h) and a (10 h) go, then 700 fit. b,
	// used an hour ago, stays though written 20 hours ago.
	if want := []string{"b", "c", "new", "x.123.tmp"}; !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
	// A bound below the recent entries: they stay all the same.
	pruneCache(root, []string{filepath.Base(sub)}, 1, now)
	ents, _ := os.ReadDir(sub)
	if len(ents) != 2 { // new, x.123.tmp
		t.Errorf("with a bound of 1 byte, left %d entries, want the recent 2", len(ents))
	}
}

// TestMaybePrune: a prune is due once an entry was added since the last
// one, and only then.
func TestMaybePrune(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "wazero-v1-amd64-linux")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	add := func(name string, age time.Duration) {
		t.Helper()
		p := filepath.Join(sub, name)
		if err := os.WriteFile(p, make([]byte, 100), 0o644); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(-age)
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
	add("old", 48*time.Hour)
	maybePrune(dir, 50) // no mark yet: due
	if _, err := os.Stat(filepath.Join(sub, "old")); !os.IsNotExist(err) {
		t.Fatalf("the first prune kept an entry over the bound (%v)", err)
	}
	// Nothing added: not due, even over the bound.
	add("old2", 48*time.Hour)
	past := time.Now().Add(-time.Hour)
	os.Chtimes(sub, past, past) // as if added before the last prune
	maybePrune(dir, 50)
	if _, err := os.Stat(filepath.Join(sub, "old2")); err != nil {
		t.Fatalf("pruned though nothing was added since the last prune: %v", err)
	}
	// A symlink named like wazero's directories is not followed.
	elsewhere := t.TempDir()
	if err := os.WriteFile(filepath.Join(elsewhere, "precious"), make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-72 * time.Hour)
	os.Chtimes(filepath.Join(elsewhere, "precious"), old, old)
	if err := os.Symlink(elsewhere, filepath.Join(dir, "wazero-link")); err != nil {
		t.Fatal(err)
	}
	// An entry added: due.
	time.Sleep(10 * time.Millisecond)
	add("recent", 0)
	maybePrune(dir, 50)
	if _, err := os.Stat(filepath.Join(sub, "old2")); !os.IsNotExist(err) {
		t.Errorf("an added entry did not make the prune due (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(sub, "recent")); err != nil {
		t.Errorf("the recent entry went: %v", err)
	}
	if _, err := os.Stat(filepath.Join(elsewhere, "precious")); err != nil {
		t.Errorf("a file a symlink in the cache leads to was pruned: %v", err)
	}
}

// TestPruneStaysInCache: what a guest or another user could have put in a
// cache never leads a prune outside it. A mark that is a link to a file
// outside does not truncate or touch that file; a wazero directory swapped
// for a link to a directory outside after the listing (the race of a
// prune that went by path) has nothing removed from that directory.
func TestPruneStaysInCache(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	old := time.Now().Add(-72 * time.Hour)
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(victim, old, old)
	if err := os.Symlink(victim, filepath.Join(dir, pruneMark)); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "wazero-v1-amd64-linux")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "entry"), make([]byte, 100), 0o644); err != nil {
		t.Fatal(err)
	}
	maybePrune(dir, 1<<20)
	if b, err := os.ReadFile(victim); err != nil || string(b) != "precious" {
		t.Fatalf("the file the mark linked to: %q, %v", b, err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, pruneMark)); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("the mark is not a file of the cache's own: %v", err)
	}

	// Listed as a directory, then swapped for a link out.
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if err := os.RemoveAll(sub); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, sub); err != nil {
		t.Fatal(err)
	}
	pruneCache(root, []string{filepath.Base(sub)}, 0, time.Now())
	if _, err := os.Stat(victim); err != nil {
		t.Errorf("pruned through a link out of the cache: %v", err)
	}
}
