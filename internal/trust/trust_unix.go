//go:build unix

package trust

import (
	"fmt"
	"os"
	"syscall"
)

// check applies the rule to one path; above says it is a directory above
// the one checked (then sticky may excuse its write bits).
func check(p string, fi os.FileInfo, above bool) error {
	if err := checkOwner(p, fi); err != nil {
		return err
	}
	sticky := above && fi.IsDir() && fi.Mode()&os.ModeSticky != 0
	if fi.Mode().Perm()&0o022 != 0 && !sticky {
		return &Error{Path: p, Why: fmt.Sprintf("is writable by others (mode %#o)", fi.Mode().Perm())}
	}
	return nil
}

// checkOwner: owned by root or the caller.
func checkOwner(p string, fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return &Error{Path: p, Why: "has no owner to check"}
	}
	if st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		return &Error{Path: p, Why: fmt.Sprintf("is owned by uid %d, neither root nor you", st.Uid)}
	}
	return nil
}
