// Package trust decides whether what wasmrun reads back from a path can
// have been changed by anyone but the caller and root: CNI plugins it
// runs as root, and compiled modules whose machine code it runs. The rule
// is the one of sshd's StrictModes and sudo's: the path, after its links,
// and every directory above it are owned by root or the caller, and
// writable by no one else (a sticky directory such as /tmp above it may
// be: nobody else can rename what is in it).
package trust

import (
	"errors"
	"os"
	"path/filepath"
)

// ErrNotTrusted is what Path's errors wrap.
var ErrNotTrusted = errors.New("not trusted")

// Path checks p (see the package comment). It returns an error for a p
// that does not exist.
func Path(p string) error {
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return err
	}
	for c := real; ; c = filepath.Dir(c) {
		fi, err := os.Lstat(c)
		if err != nil {
			return err
		}
		if err := check(c, fi, c != real); err != nil {
			return err
		}
		if c == filepath.Dir(c) {
			return nil
		}
	}
}

// Entry checks one directory entry already listed (Lstat'ed): owned by
// root or the caller, writable by no one else, and not a link.
func Entry(p string, fi os.FileInfo) error {
	if fi.Mode()&os.ModeSymlink != 0 {
		return &Error{Path: p, Why: "is a symbolic link"}
	}
	return check(p, fi, false)
}

// Error says why a path is not trusted.
type Error struct {
	Path string
	Why  string
}

func (e *Error) Error() string { return e.Path + " " + e.Why }

func (e *Error) Unwrap() error { return ErrNotTrusted }
