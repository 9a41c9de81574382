package integration

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// WASI errnos the escapes give: ENOTCAPABLE for anything that would leave
// the preopen (openat2's EXDEV under RESOLVE_BENEATH), ELOOP for a loop.
const (
	errnoLoop       = "errno 32"
	errnoNotCapable = "errno 76"
)

// escapeWant is what every escape guest prints, in order.
var escapeWant = []string{
	"dotdot " + errnoNotCapable,
	"subdotdot " + errnoNotCapable,
	"absolute " + errnoNotCapable,
	"abslink " + errnoNotCapable,
	"rellink " + errnoNotCapable,
	"dirlink " + errnoNotCapable,
	"loop " + errnoLoop,
	"create_through " + errnoNotCapable,
	"mkdir_through " + errnoNotCapable,
	"stat_abslink " + errnoNotCapable,
	"lstat_abslink ok",
	"inlink ok",
	"inside ok",
}

// escapeWantLang are the extra lines one language prints.
var escapeWantLang = map[string][]string{
	// wasi-libc refuses a path under no preopen itself, with ENOTCAPABLE;
	// "/data/../outside.txt" reaches the host as "../outside.txt".
	"c": {"libc_absolute " + errnoNotCapable, "libc_dotdot " + errnoNotCapable},
}

// escapeTree makes ROOT/outside.txt, ROOT/outdir/ and the preopen
// ROOT/pre with the links the escape guest tries; it returns ROOT and
// ROOT/pre.
func escapeTree(t *testing.T) (root, pre string) {
	root = t.TempDir()
	pre = filepath.Join(root, "pre")
	for _, d := range []string{pre, filepath.Join(pre, "sub"), filepath.Join(root, "outdir")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(root, "outside.txt"), "outside")
	writeFile(t, filepath.Join(root, "outdir", "target.txt"), "outside")
	writeFile(t, filepath.Join(pre, "inside.txt"), "inside")
	links := map[string]string{
		"abslink":  filepath.Join(root, "outside.txt"),
		"rellink":  "../outside.txt",
		"dirlink":  "..",
		"loop1":    "loop2",
		"loop2":    "loop1",
		"dangling": "../created.txt",
		"inlink":   "sub/../inside.txt",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(pre, name)); err != nil {
			t.Fatal(err)
		}
	}
	return root, pre
}

// TestEscape: every way out of a preopen is refused with the errno real
// runtimes give, nothing is created outside, and paths that stay inside
// (even through a symlink or "..") work.
func TestEscape(t *testing.T) {
	forEachLang(t, true, func(t *testing.T, l lang) {
		root, pre := escapeTree(t)
		r := run(t, nil, "run", "--dir", pre+":/data", l.build(t, "escape"), "--", "/data")
		mustExit(t, r, 0)
		want := append(slices.Clone(escapeWant), escapeWantLang[l.name]...)
		got := lines(r.stdout)
		for i, w := range want {
			if i >= len(got) || got[i] != w {
				t.Errorf("line %d: got %q, want %q", i+1, at(got, i), w)
			}
		}
		if len(got) > len(want) {
			t.Errorf("unexpected lines: %q", got[len(want):])
		}
		for _, p := range []string{"created.txt", "newdir"} {
			if _, err := os.Lstat(filepath.Join(root, p)); !os.IsNotExist(err) {
				t.Errorf("%s was created outside the preopen", p)
			}
		}
		if got := readFile(t, filepath.Join(root, "outside.txt")); got != "outside" {
			t.Errorf("outside.txt changed: %q", got)
		}
	})
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "<missing>"
}

// TestEscapeRace: while the guest opens race/target.txt again and again,
// the test keeps swapping race between a directory inside the preopen and
// a symlink to a directory outside it (renameat2 RENAME_EXCHANGE, atomic).
// The guest may get errors, but never the outside file.
func TestEscapeRace(t *testing.T) {
	forEachLang(t, true, func(t *testing.T, l lang) {
		_, pre := escapeTree(t)
		race, other := filepath.Join(pre, "race"), filepath.Join(pre, "race.other")
		if err := os.Mkdir(race, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(race, "target.txt"), "inside")
		if err := os.Symlink("../outdir", other); err != nil {
			t.Fatal(err)
		}
		var stop atomic.Bool
		swaps := make(chan int)
		go func() {
			n := 0
			for !stop.Load() {
				if err := unix.Renameat2(unix.AT_FDCWD, race, unix.AT_FDCWD, other, unix.RENAME_EXCHANGE); err != nil {
					t.Errorf("swap: %v", err)
					break
				}
				n++
			}
			swaps <- n
		}()
		r := run(t, nil, "run", "--dir", pre+":/data", l.build(t, "escape"), "--", "/data", "race", "3000")
		stop.Store(true)
		n := <-swaps
		mustExit(t, r, 0)
		line := field(t, r.stdout, "race")
		t.Logf("%d swaps: %s", n, line)
		counts := map[string]int{}
		for _, kv := range strings.Fields(line) {
			k, v, _ := strings.Cut(kv, "=")
			counts[k], _ = strconv.Atoi(v)
		}
		if counts["outside"] != 0 {
			t.Fatalf("the guest read the file outside its preopen %d times", counts["outside"])
		}
		if counts["inside"]+counts["errors"] != 3000 {
			t.Fatalf("counts do not add up: %s", line)
		}
	})
}
