//go:build unix

package trust

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPath: the rule over a path and the directories above it, through
// links; a sticky directory excuses its write bits only above the path.
func TestPath(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the test makes files owned by another user")
	}
	dir := t.TempDir()
	mk := func(p string, mode os.FileMode) string {
		t.Helper()
		if err := os.Mkdir(p, mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode) // past the umask
		return p
	}
	own := mk(filepath.Join(dir, "own"), 0o700)
	sticky := mk(filepath.Join(dir, "sticky"), 0o777|os.ModeSticky)
	underSticky := mk(filepath.Join(sticky, "mine"), 0o700)
	open := mk(filepath.Join(dir, "open"), 0o777)
	underOpen := mk(filepath.Join(open, "mine"), 0o700)
	theirs := mk(filepath.Join(dir, "theirs"), 0o755)
	os.Chown(theirs, 12345, 12345)
	underTheirs := mk(filepath.Join(theirs, "mine"), 0o700)
	link := filepath.Join(own, "link")
	if err := os.Symlink(underOpen, link); err != nil {
		t.Fatal(err)
	}
	// Another user's link in a sticky directory, to a trusted place: they
	// may swap it for one to their own directory at any moment.
	theirLink := filepath.Join(sticky, "their-link")
	if err := os.Symlink(own, theirLink); err != nil {
		t.Fatal(err)
	}
	os.Lchown(theirLink, 12345, 12345)
	ownLink := filepath.Join(sticky, "own-link")
	if err := os.Symlink(own, ownLink); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p, bad string
	}{
		{theirLink, theirLink + " is owned by uid 12345"},
		{filepath.Join(theirLink, "."), theirLink + " is owned by uid 12345"},
		{ownLink, ""},
		{own, ""},
		{underSticky, ""},
		{sticky, sticky + " is writable by others"},
		{underOpen, open + " is writable by others"},
		{link, open + " is writable by others"},
		{underTheirs, theirs + " is owned by uid 12345"},
	} {
		err := Path(tc.p)
		switch {
		case tc.bad == "" && err != nil:
			t.Errorf("%s: %v", tc.p, err)
		case tc.bad != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.bad) || !errors.Is(err, ErrNotTrusted)):
			t.Errorf("%s: %v, want %q", tc.p, err, tc.bad)
		}
	}
	if err := Path(filepath.Join(dir, "missing")); err == nil || errors.Is(err, ErrNotTrusted) {
		t.Errorf("a missing path: %v, want its own error", err)
	}
	fi, _ := os.Lstat(link)
	if err := Entry(link, fi); err == nil || !errors.Is(err, ErrNotTrusted) {
		t.Errorf("Entry of a link: %v", err)
	}
}
