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
	"strings"
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
	abs, err := filepath.Abs(p)
	if err != nil {
		return err
	}
	root := filepath.VolumeName(abs) + string(filepath.Separator)
	fi, err := os.Lstat(root)
	if err != nil {
		return err
	}
	if err := check(root, fi, abs != root); err != nil {
		return err
	}
	parts := split(abs[len(root):])
	cur := root
	for links := 0; len(parts) > 0; {
		c := parts[0]
		parts = parts[1:]
		if c == ".." {
			cur = filepath.Dir(cur) // checked on the way down
			continue
		}
		next := filepath.Join(cur, c)
		fi, err := os.Lstat(next)
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			if err := checkOwner(next, fi); err != nil {
				return err
			}
			target, err := os.Readlink(next)
			if links++; err != nil || links > 40 {
				return &Error{Path: next, Why: "is a link that cannot be followed"}
			}
			if filepath.IsAbs(target) {
				cur = root
			}
			parts = append(split(target), parts...)
			continue
		}
		if err := check(next, fi, len(parts) > 0); err != nil {
			return err
		}
		cur = next
	}
	return nil
}

// split returns p's components, less empty ones and ".".
func split(p string) []string {
	var out []string
	for _, c := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == filepath.Separator }) {
		if c != "." {
			out = append(out, c)
		}
	}
	return out
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
