package nest

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWithin: a preopen is within another when its path passes through
// that directory, however either is spelled (relative, through a link to
// it, with a trailing slash); the outermost one counts (a guest can swap
// a deeper one); the same directory twice, the root and descriptors
// passed through /proc/self/fd are never within another.
func TestWithin(t *testing.T) {
	top := t.TempDir()
	a := filepath.Join(top, "a")
	if err := os.MkdirAll(filepath.Join(a, "b", "c"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(a, filepath.Join(top, "alink")); err != nil {
		t.Fatal(err)
	}
	// A host's link into a: out -> a/b. And in a, a link a guest put
	// there: a/planted -> elsewhere.
	if err := os.Symlink(filepath.Join(a, "b"), filepath.Join(top, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(top, "elsewhere"), filepath.Join(a, "planted")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(top, "elsewhere"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A guest's link in a to a directory of the host: a/x -> ../srv.
	if err := os.MkdirAll(filepath.Join(top, "srv", "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../srv", filepath.Join(a, "x")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(top)
	// Within returns the directory as walked: a's real path (t.TempDir may
	// be reached through a link), however it was given.
	ra, err := filepath.EvalSymlinks(a)
	if err != nil {
		t.Fatal(err)
	}
	rsrv := filepath.Join(filepath.Dir(ra), "srv")
	for _, tc := range []struct {
		name       string
		dirs       []string
		outer, rel string // of dirs[0]
	}{
		{"beneath", []string{a + "/b", a}, ra, "b"},
		{"outermost", []string{a + "/b/c", a + "/b", a}, ra, "b/c"},
		{"outer after", []string{a + "/b/c/", a}, ra, "b/c"},
		{"relative inner", []string{"a/b", a}, ra, "b"},
		{"relative outer", []string{a + "/b", "a"}, ra, "b"},
		{"outer through a link", []string{a + "/b", filepath.Join(top, "alink")}, ra, "b"},
		{"inner through a link", []string{filepath.Join(top, "alink", "b"), a}, ra, "b"},
		{"through a host's link into it", []string{filepath.Join(top, "out", "c"), a}, ra, "b/c"},
		{"a host's link into it itself", []string{filepath.Join(top, "out"), a}, ra, "b"},
		{"up after a link in it", []string{a + "/planted/..", a}, ra, "planted/.."},
		// Another preopen spelled through a guest's link: the directory it
		// led to when walked, never its spelling, which the guest may turn
		// elsewhere before it is opened.
		{"an outer through a guest's link", []string{filepath.Join(top, "srv", "etc"), a + "/x", a}, rsrv, "etc"},
		{"the same twice", []string{a, a + "/"}, "", ""},
		{"apart", []string{a + "/b", filepath.Join(top, "elsewhere")}, "", ""},
		{"the root", []string{a, "/"}, "", ""},
		{"a descriptor", []string{"/proc/self/fd/7", "/proc", "/"}, "", ""},
	} {
		outer, rel := Within(tc.dirs, 0)
		if outer != tc.outer || rel != tc.rel {
			t.Errorf("%s: within %q, %q; want %q, %q", tc.name, outer, rel, tc.outer, tc.rel)
		}
	}
}

// TestHolds: the directory a path passes through or ends at, through
// links, whether or not the rest of it exists; the root holds everything.
func TestHolds(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	if err := os.MkdirAll(filepath.Join(a, "b", "c"), 0o755); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(a, "b"), filepath.Join(other, "tob")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dirs []string
		p    string
		want int
	}{
		{[]string{other, a}, filepath.Join(a, "b", "c"), 1},
		{[]string{other, a}, a, 1},
		{[]string{other, a}, filepath.Join(a, "missing", "deeper"), 1},
		{[]string{filepath.Join(a, "b")}, filepath.Join(other, "tob", "c"), 0}, // where the link leads
		{[]string{other}, filepath.Join(other, "tob", "c"), -1},                // really in a, not other
		{[]string{filepath.Join(a, "b", "c")}, filepath.Join(a, "b"), -1},
		{[]string{filepath.Join(a, "b")}, filepath.Join(dir, "missing", "b"), -1},
		{[]string{"/"}, filepath.Join(a, "b"), 0},
	} {
		if got := Holds(tc.dirs, tc.p); got != tc.want {
			t.Errorf("Holds(%v, %s) = %d, want %d", tc.dirs, tc.p, got, tc.want)
		}
	}
}

// TestHoldsDanglingLink: a path through a link to a place that does not
// exist yet is held by the directory the link leads into (where making
// the path makes it), not by where the link is.
func TestHoldsDanglingLink(t *testing.T) {
	dir := t.TempDir()
	home, w := filepath.Join(dir, "home"), filepath.Join(dir, "w")
	for _, d := range []string{home, w} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(w, "c"), filepath.Join(home, ".cache")); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(home, ".cache", "wasmrun")
	if got := Holds([]string{home, w}, p); got != 1 {
		t.Errorf("Holds(%s) = %d, want 1 (%s, where the dangling link leads)", p, got, w)
	}
}

// TestHoldsMissingRest: for a path not made yet, the directory where it
// stops existing is what is judged: a guest who can write there may make
// a link with ".." in the rest that leads anywhere.
func TestHoldsMissingRest(t *testing.T) {
	dir := t.TempDir()
	g := filepath.Join(dir, "g")
	if err := os.Mkdir(g, 0o755); err != nil {
		t.Fatal(err)
	}
	p := g + "/x/../../elsewhere/wasmrun" // as written: not cleaned
	if got := Holds([]string{g}, p); got != 0 {
		t.Errorf("Holds(%s) = %d, want 0 (g: x is missing there)", p, got)
	}
}
