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
	"runtime"

	"github.com/wasmrun/wasmrun/internal/nest"
)

// ErrNotTrusted is what Path's errors wrap.
var ErrNotTrusted = errors.New("not trusted")

// Path checks p (see the package comment), walked as the kernel walks it:
// every directory a name is looked up in, and every link on the way (its
// owner: a link's mode means nothing), with the place each link leads
// checked the same way. So nobody else can change where p leads between
// this check and its use, whatever its spelling. It returns an error for
// a p that does not exist.
func Path(p string) error {
	if runtime.GOOS == "windows" {
		_, err := os.Lstat(p) // no owners to judge (check_windows.go)
		return err
	}
	root, err := os.Lstat("/")
	if err != nil {
		return err
	}
	if err := check("/", root, true); err != nil {
		return err
	}
	var bad error
	_, ok := nest.Walk(p, func(path string, fi os.FileInfo, err error, rest []string) bool {
		switch {
		case err != nil:
			bad = err
		case fi.Mode()&os.ModeSymlink != 0:
			bad = checkOwner(path, fi) // a link's mode means nothing
		default:
			bad = check(path, fi, len(rest) > 0)
		}
		return bad == nil
	})
	if bad == nil && !ok {
		bad = &Error{Path: p, Why: "has a link on the way that cannot be followed"}
	}
	return bad
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
