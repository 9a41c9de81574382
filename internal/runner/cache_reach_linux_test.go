package runner

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCheckCacheReachOpened: a directory is judged by what was opened, not
// by the path it was named by: a path that was a directory of its own
// when the creator looked and is now a link to the cache's parent (a
// guest running elsewhere swapped it) is refused, as is one that opened
// inside the cache; an unrelated one passes.
func TestCheckCacheReachOpened(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cc", "cache")
	sub := filepath.Join(cache, "wazero-x")
	other := filepath.Join(dir, "other")
	for _, d := range []string{sub, other} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	swapped := filepath.Join(dir, "g-sub")
	if err := os.Symlink(filepath.Join(dir, "cc"), swapped); err != nil {
		t.Fatal(err)
	}
	open := func(p string) string {
		t.Helper()
		fd, err := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		return "/proc/self/fd/" + strconv.Itoa(fd)
	}
	caches := []string{cache}
	for _, tc := range []struct {
		opened, want string
	}{
		{swapped, "holds the compiled-module cache"},
		{sub, "is the compiled-module cache"},
		{cache, "compiled-module cache " + cache},
		{other, ""},
	} {
		err := CheckCacheReachOpened("/as/named", open(tc.opened), caches)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.opened, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.opened, err, tc.want)
		}
	}
}
