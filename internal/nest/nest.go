// Package nest tells which of a guest's preopened host directories are
// reached through another: a guest that can write that other one (in an
// earlier run, or another app sharing it) may have put a link on the way,
// so the inner one must be resolved within it, never through a link that
// leads out. The WASI layer and the container process judge alike.
//
// Nesting is decided by the directories themselves, not their spelling:
// a preopen is within another when one of the directories its path passes
// through is that other (os.SameFile), however either path is written
// (relative, through a link such as /var/run, with a trailing slash). The
// outermost such directory is the one to resolve within: it is above
// anything a guest controls, where a deeper one may be a link the guest
// swaps while it is resolved.
package nest

import (
	"os"
	"path/filepath"
	"strings"
)

// Within returns, for dirs[i], the outermost other of dirs that its path
// passes through and the rest of its path from there ("" when there is
// none). A path through /proc/self/fd is a descriptor passed on purpose
// (initproc.Shared), never within another.
func Within(dirs []string, i int) (outer, rel string) {
	p, err := filepath.Abs(dirs[i])
	if err != nil || strings.HasPrefix(p, "/proc/self/fd/") {
		return "", ""
	}
	others := make([]os.FileInfo, len(dirs))
	for j, d := range dirs {
		if j != i {
			others[j], _ = os.Stat(d)
		}
	}
	// The directories p passes through, from the root down (not p).
	var prefixes []string
	for d := filepath.Dir(p); ; d = filepath.Dir(d) {
		prefixes = append(prefixes, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	// The root itself is left out: a guest given / has every directory
	// already, and resolved within it absolute links (/var/run) fail.
	for k := len(prefixes) - 2; k >= 0; k-- {
		fi, err := os.Stat(prefixes[k])
		if err != nil {
			return "", ""
		}
		for j, o := range others {
			if o != nil && os.SameFile(fi, o) {
				r, err := filepath.Rel(prefixes[k], p)
				if err != nil {
					return "", ""
				}
				return dirs[j], r
			}
		}
	}
	return "", ""
}
