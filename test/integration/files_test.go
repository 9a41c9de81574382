package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fileSteps are the checks every files guest makes (see
// internal/guests/testdata/go/files); each must print "ok STEP".
var fileSteps = []string{
	"mkdir", "create", "write", "read", "seek", "tell", "seek_end",
	"truncate", "extend", "rewrite", "sync", "close", "open_append", "append",
	"excl", "enoent", "rename", "link", "symlink", "lstat", "follow", "unlink",
	"mkdir_sub", "rmdir_notempty", "rmdir", "times", "mkdir_big", "opendir",
	"readdir",
}

// langFileSteps are the extra checks one language makes.
var langFileSteps = map[string][]string{
	"go":   {"pwrite_pread", "pwrite_restore"},
	"c":    {"pwrite_pread", "pwrite_restore", "datasync", "fadvise", "getfl", "futimens", "times_now", "allocate", "readdir_end"},
	"rust": {"datasync"},
}

// readdirEntries is "thousands of entries", kept lean for 2 cores.
const readdirEntries = 3000

// TestFiles runs the files guest in a preopened directory and then checks
// from the host what it left there.
func TestFiles(t *testing.T) {
	forEachLang(t, true, func(t *testing.T, l lang) {
		dir := t.TempDir()
		r := run(t, nil, "run", "--dir", dir+":/data", l.build(t, "files"), "--", "/data", strconv.Itoa(readdirEntries))
		got := map[string]bool{}
		for _, line := range lines(r.stdout) {
			if strings.HasPrefix(line, "FAIL ") {
				t.Errorf("guest: %s", line)
			}
			if step, ok := strings.CutPrefix(line, "ok "); ok {
				got[step] = true
			}
		}
		for _, step := range append(append([]string{}, fileSteps...), langFileSteps[l.name]...) {
			if !got[step] {
				t.Errorf("step %s: no \"ok %s\" line", step, step)
			}
		}
		mustExit(t, r, 0)
		if out := lines(r.stdout); len(out) == 0 || out[len(out)-1] != "done" {
			t.Errorf("last line is not \"done\":\n%s", r.stdout)
		}
		if r.stderr != "" {
			t.Errorf("stderr: %s", r.stderr)
		}

		work := filepath.Join(dir, "work")
		if got := readFile(t, filepath.Join(work, "b.txt")); got != "hello, world\nmore" {
			t.Errorf("host sees b.txt = %q", got)
		}
		if target, err := os.Readlink(filepath.Join(work, "s")); err != nil || target != "b.txt" {
			t.Errorf("host sees symlink s -> %q, %v; want b.txt", target, err)
		}
		for _, gone := range []string{"a.txt", "c.txt", "d"} {
			if _, err := os.Lstat(filepath.Join(work, gone)); !os.IsNotExist(err) {
				t.Errorf("%s should be gone: %v", gone, err)
			}
		}
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(work, "times.txt"), &st); err != nil {
			t.Fatal(err)
		}
		if m, a := time.Unix(st.Mtim.Unix()), time.Unix(st.Atim.Unix()); !m.Equal(time.Unix(1234567890, 123456789)) || !a.Equal(time.Unix(1000000000, 500000000)) {
			t.Errorf("host sees times.txt atime %v mtime %v", a.UnixNano(), m.UnixNano())
		}
		ents, err := os.ReadDir(filepath.Join(work, "big"))
		if err != nil || len(ents) != readdirEntries {
			t.Errorf("host sees %d entries in big (%v), want %d", len(ents), err, readdirEntries)
		}
	})
}
