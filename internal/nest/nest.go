// Package nest tells which of a guest's preopened host directories are
// reached through another: a guest that can write that other one (in an
// earlier run, or another app sharing it) may have put a link on the way,
// so the inner one must be resolved within it, never through a link that
// leads out. The WASI layer and the container process judge alike.
//
// Nesting is decided by the directories themselves, not their spelling:
// a preopen is within another when its path, walked as the kernel walks it
// (links followed, ".." after them), passes through that other directory
// (os.SameFile), however either path is written (relative, through a link
// such as /var/run or a host's link into the guest's directory, with a
// trailing slash). The first such directory on the way is the one to
// resolve within: it is above anything a guest controls, where a deeper
// one may be a link the guest swaps while it is resolved.
package nest

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Within returns, for dirs[i], the first directory its path passes
// through, walked as the kernel walks it, that is another of dirs (as
// walked, links resolved: the other's own spelling may pass through a
// link a guest swaps), and the rest of the path from there, as written
// ("" when there is none). The walk follows links
// (a host's link into a guest's directory counts as that directory) and
// takes ".." after the link before it, as the kernel does; it stops at
// the first of dirs it meets, which is above anything a guest controls:
// the rest must be resolved within that one. A path through /proc/self/fd
// is a descriptor passed on purpose (initproc.Shared), never within
// another; the root is never another's outer directory (a guest given /
// has all of it already).
func Within(dirs []string, i int) (outer, rel string) {
	if runtime.GOOS == "windows" {
		return withinPrefixes(dirs, i)
	}
	p := dirs[i]
	if !filepath.IsAbs(p) {
		wd, err := os.Getwd()
		if err != nil {
			return "", ""
		}
		p = wd + "/" + p
	}
	if strings.HasPrefix(filepath.Clean(p), "/proc/self/fd/") {
		return "", ""
	}
	var others []os.FileInfo
	for j, d := range dirs {
		if j == i {
			continue
		}
		if fi, err := os.Stat(d); err == nil {
			others = append(others, fi)
		}
	}
	if len(others) == 0 {
		return "", "" // nothing to be within: no walk (run's usual one preopen)
	}
	Walk(p, func(path string, fi os.FileInfo, err error, rest []string) bool {
		switch {
		case err != nil:
			return false // the open of the path says what is wrong
		case fi.Mode()&os.ModeSymlink != 0:
			return true // followed
		case len(rest) == 0:
			return false // the directory itself: the same as another is not within it
		}
		for _, o := range others {
			if os.SameFile(fi, o) {
				// The directory as walked, not as the other preopen is
				// spelled: that spelling may pass through a guest's
				// link, which may lead elsewhere by the time it is opened.
				outer, rel = path, strings.Join(rest, "/")
				return false
			}
		}
		return true
	})
	return outer, rel
}

// Walk walks path p as the kernel walks it, from the root (a relative p
// from the working directory), p not cleaned first: a ".." after a link
// goes up from where the link led. visit sees each name looked up: its
// path as walked (links before it resolved), its Lstat (err set when it
// does not exist: the walk ends there) and the names left after it. A link
// is visited, then followed (at most 40). visit returning false ends the
// walk. Walk returns the path walked so far (what it ended at, or the
// last directory that exists), and false if a link could not be followed.
func Walk(p string, visit func(path string, fi os.FileInfo, err error, rest []string) bool) (string, bool) {
	if !filepath.IsAbs(p) {
		wd, err := os.Getwd()
		if err != nil {
			return "", false
		}
		p = wd + "/" + p
	}
	parts := split(p)
	cur := "/"
	for links := 0; len(parts) > 0; {
		c := parts[0]
		parts = parts[1:]
		if c == ".." {
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, c)
		fi, err := os.Lstat(next)
		if !visit(next, fi, err, parts) || err != nil {
			if err == nil {
				cur = next
			}
			return cur, true
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(next)
			if links++; err != nil || links > 40 {
				return cur, false
			}
			if filepath.IsAbs(target) {
				cur = "/"
			}
			parts = append(split(target), parts...)
			continue
		}
		cur = next
	}
	return cur, true
}

// split returns p's components, less empty ones and ".".
func split(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

// withinPrefixes is Within where paths have volumes and links are rare
// (Windows): the first of the directories p passes through as written,
// each as it is now, that is another of dirs.
func withinPrefixes(dirs []string, i int) (outer, rel string) {
	p, err := filepath.Abs(dirs[i])
	if err != nil {
		return "", ""
	}
	var prefixes []string
	for d := filepath.Dir(p); d != filepath.Dir(d); d = filepath.Dir(d) {
		prefixes = append(prefixes, d)
	}
	for k := len(prefixes) - 1; k >= 0; k-- {
		fi, err := os.Stat(prefixes[k])
		if err != nil {
			return "", ""
		}
		for j, d := range dirs {
			if o, err := os.Stat(d); j != i && err == nil && os.SameFile(fi, o) {
				if r, err := filepath.Rel(prefixes[k], p); err == nil {
					return prefixes[k], r
				}
			}
		}
	}
	return "", ""
}

// Holds returns the first of dirs that holds path p where it really is
// (links resolved): p is that directory, or beneath it. p need not
// exist: then its last existing directory is judged (resolve).
// Unlike Within, the root counts: a guest given / holds everything. -1
// when none does.
func Holds(dirs []string, p string) int {
	var infos []os.FileInfo
	for _, d := range dirs {
		fi, _ := os.Stat(d)
		infos = append(infos, fi) // nil for one that does not exist
	}
	real, ok := resolve(p)
	if !ok {
		return -1
	}
	for d := real; ; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil {
			for i, o := range infos {
				if o != nil && os.SameFile(fi, o) {
					return i
				}
			}
		}
		if d == filepath.Dir(d) {
			return -1
		}
	}
}

// resolve returns where path p is, its links resolved as the kernel
// follows them (a link whose target is missing too: making the path
// makes that target); for a p that does not exist yet, the last directory
// of it that does (whoever can write that one decides where the rest
// leads). false for too many links or an unreadable one.
func resolve(p string) (string, bool) {
	abs := p // not cleaned: a ".." after a link is the link target's parent
	if !filepath.IsAbs(p) {
		wd, err := os.Getwd()
		if err != nil {
			return "", false
		}
		abs = wd + string(filepath.Separator) + p
	}
	if runtime.GOOS == "windows" {
		abs = filepath.Clean(abs)
		real, rest := abs, ""
		for {
			if r, err := filepath.EvalSymlinks(real); err == nil {
				return filepath.Join(r, rest), true
			}
			if real == filepath.Dir(real) {
				return "", false
			}
			rest = filepath.Join(filepath.Base(real), rest)
			real = filepath.Dir(real)
		}
	}
	// Missing: what the rest becomes is up to whoever can write where the
	// walk stopped (a link made later, with ".." in what follows, leads
	// anywhere), so that is where it is.
	return Walk(abs, func(_ string, _ os.FileInfo, err error, _ []string) bool { return err == nil })
}
