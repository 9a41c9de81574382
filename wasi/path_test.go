//go:build linux || darwin

package wasi

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// pathCall writes path at fsPath and calls name(fd, fsPath, len(path)).
func pathCall(h *harness, name string, fd uint64, path string) sys.Errno {
	h.t.Helper()
	n := h.writeString(fsPath, path)
	return h.call(name, fd, fsPath, uint64(n))
}

func TestPathOpen(t *testing.T) {
	h := newHarness(t, Config{})
	writeFile(t, h, "f", "data")
	open := func(path string, lookup, oflags uint64, rights sys.Rights, fdflags uint64) sys.Errno {
		t.Helper()
		n := h.writeString(fsPath, path)
		return h.call("path_open", harnessPreopenFD, lookup, fsPath, uint64(n), oflags,
			uint64(rights), uint64(sys.RightsAll), fdflags, 100)
	}

	h.fill(fsMarker)
	if errno := open("f", 0, 0, sys.RightFdRead|sys.RightFdSeek, 0); errno != 0 {
		t.Fatalf("path_open = %v", errno)
	}
	fd := h.u32(100)
	h.expectMem(99, marked(nil, 1))
	h.expectMem(104, marked(nil, 1))
	if fd != 4 {
		t.Errorf("new fd = %d, want 4 (lowest free)", fd)
	}
	h.expectErrno(sys.ESUCCESS, "fd_fdstat_get", uint64(fd), 200)
	h.expectMem(200, []byte{byte(sys.FiletypeRegularFile)})
	h.expectMem(208, le64Bytes(uint64(sys.RightsRegularFile&^sys.RightFdWrite)))
	h.expectMem(216, le64Bytes(0))

	// CREAT|TRUNC with APPEND.
	h.fill(fsMarker)
	if errno := open("new", 0, 1|8, sys.RightFdWrite, uint64(sys.FdflagAppend)); errno != 0 {
		t.Fatalf("path_open CREAT = %v", errno)
	}
	h.expectErrno(sys.ESUCCESS, "fd_fdstat_get", uint64(h.u32(100)), 200)
	h.expectMem(202, []byte{byte(sys.FdflagAppend), 0})
	if _, err := os.Stat(filepath.Join(h.dir, "new")); err != nil {
		t.Error(err)
	}

	for _, tc := range []struct {
		name    string
		path    string
		lookup  uint64
		oflags  uint64
		rights  sys.Rights
		fdflags uint64
		want    sys.Errno
	}{
		{"exclusive", "f", 0, 1 | 4, sys.RightFdWrite, 0, sys.EEXIST},
		{"missing", "nope", 0, 0, sys.RightFdRead, 0, sys.ENOENT},
		{"directory flag on file", "f", 0, 2, sys.RightFdRead, 0, sys.ENOTDIR},
		{"write to directory", ".", 0, 0, sys.RightFdWrite, 0, sys.EISDIR},
		{"unknown oflags", "f", 0, 16, sys.RightFdRead, 0, sys.EINVAL},
		{"oflags above u16", "f", 0, 1 << 16, sys.RightFdRead, 0, sys.EINVAL},
		{"unknown fdflags", "f", 0, 0, sys.RightFdRead, 32, sys.EINVAL},
		{"unknown lookupflags", "f", 2, 0, sys.RightFdRead, 0, sys.EINVAL},
		{"empty path", "", 0, 0, sys.RightFdRead, 0, sys.ENOENT},
		{"NUL in path", "f\x00", 0, 0, sys.RightFdRead, 0, sys.EINVAL},
	} {
		h.fill(fsMarker)
		if errno := open(tc.path, tc.lookup, tc.oflags, tc.rights, tc.fdflags); errno != tc.want {
			t.Errorf("%s: path_open = %v, want %v", tc.name, errno, tc.want)
		}
		h.expectMem(100, marked(nil, 4))
	}

	// A directory opened read-only gets directory rights only.
	h.fill(fsMarker)
	if errno := open(".", 0, 2, sys.RightsAll&^sys.RightFdWrite, 0); errno != 0 {
		t.Fatalf("open . = %v", errno)
	}
	h.expectErrno(sys.ESUCCESS, "fd_fdstat_get", uint64(h.u32(100)), 200)
	h.expectMem(200, []byte{byte(sys.FiletypeDirectory)})
	h.expectMem(208, le64Bytes(uint64(sys.RightsDirectory)))

	// A result pointer out of range is EFAULT and opens nothing.
	before := h.sys.FDs.Len()
	n := h.writeString(fsPath, "f")
	h.expectErrno(sys.EFAULT, "path_open", harnessPreopenFD, 0, fsPath, uint64(n), 0,
		uint64(sys.RightFdRead), 0, 0, uint64(h.memSize()-2))
	if after := h.sys.FDs.Len(); after != before {
		t.Errorf("fds open: %d before, %d after", before, after)
	}
}

func TestPathDirectories(t *testing.T) {
	h := newHarness(t, Config{})
	h.expectErrno(sys.ESUCCESS, "path_create_directory", harnessPreopenFD, fsPath, uint64(h.writeString(fsPath, "d")))
	if st, err := os.Stat(filepath.Join(h.dir, "d")); err != nil || !st.IsDir() {
		t.Fatalf("d not created: %v", err)
	}
	if got := pathCall(h, "path_create_directory", harnessPreopenFD, "d"); got != sys.EEXIST {
		t.Errorf("mkdir existing = %v, want EEXIST", got)
	}
	if got := pathCall(h, "path_create_directory", harnessPreopenFD, "x/y"); got != sys.ENOENT {
		t.Errorf("mkdir x/y = %v, want ENOENT", got)
	}
	writeFile(t, h, "d/f", "")
	if got := pathCall(h, "path_remove_directory", harnessPreopenFD, "d"); got != sys.ENOTEMPTY {
		t.Errorf("rmdir non-empty = %v, want ENOTEMPTY", got)
	}
	if got := pathCall(h, "path_remove_directory", harnessPreopenFD, "d/f"); got != sys.ENOTDIR {
		t.Errorf("rmdir file = %v, want ENOTDIR", got)
	}
	if got := pathCall(h, "path_unlink_file", harnessPreopenFD, "d"); got != sys.EISDIR {
		t.Errorf("unlink dir = %v, want EISDIR", got)
	}
	if got := pathCall(h, "path_unlink_file", harnessPreopenFD, "d/f"); got != 0 {
		t.Errorf("unlink = %v", got)
	}
	if got := pathCall(h, "path_unlink_file", harnessPreopenFD, "d/f"); got != sys.ENOENT {
		t.Errorf("unlink again = %v, want ENOENT", got)
	}
	if got := pathCall(h, "path_remove_directory", harnessPreopenFD, "d/"); got != 0 {
		t.Errorf("rmdir d/ = %v", got)
	}
	if got := pathCall(h, "path_remove_directory", harnessPreopenFD, "."); got != sys.EINVAL {
		t.Errorf("rmdir . = %v, want EINVAL", got)
	}
	// A file descriptor is not a directory.
	writeFile(t, h, "f", "")
	fd := uint64(fsOpen(h, "f", 0, sys.RightsAll, 0))
	if got := pathCall(h, "path_create_directory", fd, "x"); got != sys.ENOTDIR {
		t.Errorf("mkdir beneath a file = %v, want ENOTDIR", got)
	}
	// Without the right.
	h.expectErrno(sys.ESUCCESS, "fd_fdstat_set_rights", harnessPreopenFD, uint64(sys.RightPathOpen), 0)
	for _, fn := range []string{"path_create_directory", "path_remove_directory", "path_unlink_file"} {
		if got := pathCall(h, fn, harnessPreopenFD, "x"); got != sys.ENOTCAPABLE {
			t.Errorf("%s without right = %v, want ENOTCAPABLE", fn, got)
		}
	}
	if got := pathCall(h, "path_create_directory", 99, "x"); got != sys.EBADF {
		t.Errorf("mkdir on fd 99 = %v, want EBADF", got)
	}
}

func TestPathFilestat(t *testing.T) {
	h := newHarness(t, Config{})
	p := writeFile(t, h, "f", "hello")
	if err := os.Symlink("f", filepath.Join(h.dir, "lnk")); err != nil {
		t.Fatal(err)
	}
	var st, lst unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	n := uint64(h.writeString(fsPath, "lnk"))
	h.fill(fsMarker)
	h.writeString(fsPath, "lnk")
	h.expectErrno(sys.ESUCCESS, "path_filestat_get", harnessPreopenFD, 1, fsPath, n, 100)
	h.expectMem(99, []byte{fsMarker})
	h.expectMem(100, marked(filestatBytes(&st, sys.FiletypeRegularFile), 1))
	// Following the link read it, which may have changed its atime.
	if err := unix.Lstat(filepath.Join(h.dir, "lnk"), &lst); err != nil {
		t.Fatal(err)
	}
	h.expectErrno(sys.ESUCCESS, "path_filestat_get", harnessPreopenFD, 0, fsPath, n, 100)
	h.expectMem(100, marked(filestatBytes(&lst, sys.FiletypeSymbolicLink), 1))

	// Times, following the link and not.
	h.expectErrno(sys.ESUCCESS, "path_filestat_set_times", harnessPreopenFD, 1, fsPath, n,
		1_000_000_001, 2_000_000_002, uint64(sys.FstflagAtim|sys.FstflagMtim))
	if err := unix.Stat(p, &st); err != nil || st.Atim.Nano() != 1_000_000_001 || st.Mtim.Nano() != 2_000_000_002 {
		t.Errorf("times after set: %v %v", st.Atim, st.Mtim)
	}
	h.expectErrno(sys.ESUCCESS, "path_filestat_set_times", harnessPreopenFD, 0, fsPath, n,
		0, 3_000_000_003, uint64(sys.FstflagMtim))
	if err := unix.Lstat(filepath.Join(h.dir, "lnk"), &lst); err != nil || lst.Mtim.Nano() != 3_000_000_003 {
		t.Errorf("link mtime: %v", lst.Mtim)
	}
	if err := unix.Stat(p, &st); err != nil || st.Mtim.Nano() != 2_000_000_002 {
		t.Errorf("target mtime changed: %v", st.Mtim)
	}
	h.expectErrno(sys.EINVAL, "path_filestat_set_times", harnessPreopenFD, 0, fsPath, n,
		0, 0, uint64(sys.FstflagMtim|sys.FstflagMtimNow))
	h.expectErrno(sys.EINVAL, "path_filestat_get", harnessPreopenFD, 2, fsPath, n, 100)

	h.fill(fsMarker)
	n = uint64(h.writeString(fsPath, "missing"))
	h.expectErrno(sys.ENOENT, "path_filestat_get", harnessPreopenFD, 0, fsPath, n, 100)
	h.expectMem(100, marked(nil, 64))
}

func TestPathLinkRenameSymlinkReadlink(t *testing.T) {
	h := newHarness(t, Config{})
	writeFile(t, h, "f", "data")
	two := func(name string, a string, b string, call func(p1, n1, p2, n2 uint64) sys.Errno) sys.Errno {
		t.Helper()
		n1 := uint64(h.writeString(fsPath, a))
		n2 := uint64(h.writeString(fsPath2, b))
		return call(fsPath, n1, fsPath2, n2)
	}
	link := func(flags uint64, from, to string) sys.Errno {
		return two("path_link", from, to, func(p1, n1, p2, n2 uint64) sys.Errno {
			return h.call("path_link", harnessPreopenFD, flags, p1, n1, harnessPreopenFD, p2, n2)
		})
	}
	rename := func(from, to string) sys.Errno {
		return two("path_rename", from, to, func(p1, n1, p2, n2 uint64) sys.Errno {
			return h.call("path_rename", harnessPreopenFD, p1, n1, harnessPreopenFD, p2, n2)
		})
	}
	symlink := func(target, at string) sys.Errno {
		return two("path_symlink", target, at, func(p1, n1, p2, n2 uint64) sys.Errno {
			return h.call("path_symlink", p1, n1, harnessPreopenFD, p2, n2)
		})
	}

	if got := link(0, "f", "g"); got != 0 {
		t.Fatalf("link = %v", got)
	}
	if b, _ := os.ReadFile(filepath.Join(h.dir, "g")); string(b) != "data" {
		t.Errorf("g = %q", b)
	}
	if got := link(0, "f", "g"); got != sys.EEXIST {
		t.Errorf("link onto existing = %v, want EEXIST", got)
	}
	if got := symlink("f", "s"); got != 0 {
		t.Fatalf("symlink = %v", got)
	}
	// Linking a symlink without follow links the symlink itself.
	if got := link(0, "s", "s2"); got != 0 {
		t.Errorf("link symlink = %v", got)
	}
	if fi, err := os.Lstat(filepath.Join(h.dir, "s2")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("s2 is not a symlink: %v", err)
	}
	if got := link(1, "s", "s3"); got != 0 {
		t.Errorf("link symlink following = %v", got)
	}
	if fi, err := os.Lstat(filepath.Join(h.dir, "s3")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("s3 is not the regular file: %v", err)
	}
	if got := symlink("f", "s"); got != sys.EEXIST {
		t.Errorf("symlink onto existing = %v, want EEXIST", got)
	}
	if got := rename("g", "h"); got != 0 {
		t.Errorf("rename = %v", got)
	}
	if _, err := os.Stat(filepath.Join(h.dir, "h")); err != nil {
		t.Error(err)
	}
	if got := rename("nope", "h"); got != sys.ENOENT {
		t.Errorf("rename missing = %v, want ENOENT", got)
	}
	if err := os.Mkdir(filepath.Join(h.dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := rename("h", "d"); got != sys.EISDIR {
		t.Errorf("rename file onto dir = %v, want EISDIR", got)
	}
	if got := rename("d", "d/sub"); got != sys.EINVAL {
		t.Errorf("rename dir into itself = %v, want EINVAL", got)
	}

	// Readlink: exact bytes, then truncated.
	h.fill(fsMarker)
	n := uint64(h.writeString(fsPath, "s"))
	h.expectErrno(sys.ESUCCESS, "path_readlink", harnessPreopenFD, fsPath, n, fsBuf, 64, 100)
	h.expectMem(100, marked(le32Bytes(1), 1))
	h.expectMem(fsBuf, marked([]byte("f"), 1))
	if got := symlink("a/long/target", "long"); got != 0 {
		t.Fatal(got)
	}
	h.fill(fsMarker)
	n = uint64(h.writeString(fsPath, "long"))
	h.expectErrno(sys.ESUCCESS, "path_readlink", harnessPreopenFD, fsPath, n, fsBuf, 4, 100)
	h.expectMem(100, le32Bytes(4))
	h.expectMem(fsBuf, marked([]byte("a/lo"), 1))
	n = uint64(h.writeString(fsPath, "f"))
	h.expectErrno(sys.EINVAL, "path_readlink", harnessPreopenFD, fsPath, n, fsBuf, 64, 100)
	h.expectErrno(sys.ENOTCAPABLE, "path_readlink", harnessPreopenFD, fsPath, uint64(h.writeString(fsPath, "/f")), fsBuf, 64, 100)
	h.expectErrno(sys.EBADF, "path_readlink", 99, fsPath, n, fsBuf, 64, 100)
	h.expectErrno(sys.ENOENT, "path_symlink", fsPath, 0, harnessPreopenFD, fsPath2, 1)
}

// TestPathSymlinkAbsoluteTarget: a symlink's target is only text until it
// is followed, so creating one with an absolute target is allowed (POSIX
// programs make them: a "current" link to an absolute release directory,
// /etc/localtime). Following it is what leaves the preopen, and is refused
// as every other escape is, even when the host path it names is inside
// the preopen; without following, it is an ordinary symlink.
func TestPathSymlinkAbsoluteTarget(t *testing.T) {
	ro := t.TempDir()
	h := newHarness(t, Config{Preopens: []Preopen{{HostPath: t.TempDir(), GuestPath: "/"}, {HostPath: ro, GuestPath: "/ro", ReadOnly: true}}})
	writeFile(t, h, "f", "data")
	call := func(name string, target, path string, fd uint64) sys.Errno {
		n1 := h.writeString(fsPath, target)
		n2 := h.writeString(fsPath2, path)
		return h.call(name, fsPath, uint64(n1), fd, fsPath2, uint64(n2))
	}
	for target, link := range map[string]string{
		"/etc/passwd":                  "abs",
		"/":                            "root",
		filepath.Join(h.dir, "f"):      "inside", // the host path of a file inside
		"/nonexistent/dangling/x":      "dangling",
		"/etc/passwd/../../etc/shadow": "dots",
	} {
		if errno := call("path_symlink", target, link, harnessPreopenFD); errno != 0 {
			t.Errorf("symlink %s -> %s = %v, want success", link, target, errno)
			continue
		}
		if got, err := os.Readlink(filepath.Join(h.dir, link)); err != nil || got != target {
			t.Errorf("host sees %s -> %q, %v; want %q", link, got, err, target)
		}
		h.fill(fsMarker)
		n := h.writeString(fsPath, link)
		h.expectErrno(0, "path_readlink", harnessPreopenFD, fsPath, uint64(n), fsBuf, 64, fsResult)
		h.expectMem(fsBuf, marked([]byte(target), 1))
		// Followed, it leads out: refused, for every way of following.
		for _, path := range []string{link, link + "/", link + "/x"} {
			n := h.writeString(fsPath, path)
			h.expectErrno(sys.ENOTCAPABLE, "path_open", harnessPreopenFD, 1, fsPath, uint64(n), 0, uint64(sys.RightFdRead), 0, 0, fsResult)
			h.expectErrno(sys.ENOTCAPABLE, "path_filestat_get", harnessPreopenFD, 1, fsPath, uint64(n), fsBuf)
		}
		// Not followed, it is the link itself.
		h.expectErrno(sys.ELOOP, "path_open", harnessPreopenFD, 0, fsPath, uint64(h.writeString(fsPath, link)), 0, uint64(sys.RightFdRead), 0, 0, fsResult)
		h.expectErrno(0, "path_filestat_get", harnessPreopenFD, 0, fsPath, uint64(h.writeString(fsPath, link)), fsBuf)
		if got := sys.Filetype(h.read(fsBuf+16, 1)[0]); got != sys.FiletypeSymbolicLink {
			t.Errorf("%s: filetype %d, want symlink", link, got)
		}
		h.expectErrno(0, "path_unlink_file", harnessPreopenFD, fsPath, uint64(h.writeString(fsPath, link)))
	}
	// The link's own path is still confined, and a read-only preopen
	// takes no link at all.
	if errno := call("path_symlink", "/etc/passwd", "../escaped", harnessPreopenFD); errno != sys.ENOTCAPABLE {
		t.Errorf("symlink at ../escaped = %v, want ENOTCAPABLE", errno)
	}
	if errno := call("path_symlink", "/etc/passwd", "abs", harnessPreopenFD+1); errno != sys.EROFS {
		t.Errorf("symlink in a read-only preopen = %v, want EROFS", errno)
	}
	if entries, _ := os.ReadDir(ro); len(entries) != 0 {
		t.Errorf("read-only preopen holds %v", entries)
	}
}

// TestPathLinkSameRights is wasi-testsuite's path_link: a file and a hard
// link to it, reached from another directory, report the same fdstat and
// filestat when opened alike. The guest opens every directory and file
// asking for the same few rights, inheriting included; the link's directory
// then must not narrow what the file can carry.
func TestPathLinkSameRights(t *testing.T) {
	h := newHarness(t, Config{})
	const testRights = sys.RightFdRead | sys.RightPathLinkSource | sys.RightPathLinkTarget |
		sys.RightFdFilestatGet | sys.RightPathOpen | sys.RightPathUnlinkFile
	open := func(dir uint32, path string, oflags uint16, base, inh sys.Rights) uint32 {
		t.Helper()
		n := h.writeString(fsPath, path)
		if errno := h.call("path_open", uint64(dir), 0, fsPath, uint64(n), uint64(oflags), uint64(base), uint64(inh), 0, fsResult); errno != 0 {
			t.Fatalf("path_open(%d, %q) = %v", dir, path, errno)
		}
		return h.u32(fsResult)
	}
	stat := func(call string, fd uint32) []byte {
		t.Helper()
		h.expectErrno(0, call, uint64(fd), fsBuf)
		return h.read(fsBuf, filestatSize)
	}
	link := func(oldDir uint32, old string, newDir uint32, new string) {
		t.Helper()
		n1 := h.writeString(fsPath, old)
		n2 := h.writeString(fsPath2, new)
		h.expectErrno(0, "path_link", uint64(oldDir), 0, fsPath, uint64(n1), uint64(newDir), fsPath2, uint64(n2))
	}

	// open_scratch_directory: "." with the preopen's own rights.
	h.expectErrno(0, "fd_fdstat_get", harnessPreopenFD, fsBuf)
	base, inh := sys.Rights(h.u64(fsBuf+8)), sys.Rights(h.u64(fsBuf+16))
	dir := open(harnessPreopenFD, ".", uint16(sys.OflagDirectory), base, inh)
	file := open(dir, "file", uint16(sys.OflagCreat), testRights, testRights)
	n := h.writeString(fsPath, "subdir")
	h.expectErrno(0, "path_create_directory", uint64(dir), fsPath, uint64(n))
	subdir := open(dir, "subdir", uint16(sys.OflagDirectory), testRights, testRights)

	link(dir, "file", dir, "link")
	link(dir, "file", subdir, "link")
	for _, l := range []struct {
		name string
		dir  uint32
	}{{"link in the same directory", dir}, {"link in a subdirectory", subdir}} {
		fd := open(l.dir, "link", 0, testRights, testRights)
		if got, want := stat("fd_fdstat_get", fd)[:24], stat("fd_fdstat_get", file)[:24]; !bytes.Equal(got, want) {
			t.Errorf("%s: fdstat\n got %x\nwant %x (the file's)", l.name, got, want)
		}
		if got, want := stat("fd_filestat_get", fd), stat("fd_filestat_get", file); !bytes.Equal(got, want) {
			t.Errorf("%s: filestat\n got %x\nwant %x (the file's)", l.name, got, want)
		}
	}

	// What does narrow: fd_fdstat_set_rights on a directory narrows
	// everything opened beneath it, however it is opened.
	h.expectErrno(0, "fd_fdstat_get", uint64(subdir), fsBuf)
	h.expectErrno(0, "fd_fdstat_set_rights", uint64(subdir), h.u64(fsBuf+8), uint64(sys.RightFdRead|sys.RightPathOpen))
	fd := open(subdir, "link", 0, testRights, sys.RightsAll)
	h.expectErrno(0, "fd_fdstat_get", uint64(fd), fsBuf)
	if got := sys.Rights(h.u64(fsBuf + 8)); got != sys.RightFdRead {
		t.Errorf("beneath a narrowed directory: rights %#x, want FD_READ", got)
	}
}

// TestPathEscapes checks the errno of each way out of the preopen through
// the ABI.
func TestPathEscapes(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Config{})
	for name, target := range map[string]string{
		"abs":   outside,
		"rel":   filepath.Join(must1(filepath.Rel(h.dir, outside))),
		"loop1": "loop2",
		"loop2": "loop1",
		"self":  "self",
	} {
		if err := os.Symlink(target, filepath.Join(h.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		path string
		want sys.Errno
	}{
		{"..", sys.ENOTCAPABLE},
		{"../x", sys.ENOTCAPABLE},
		{"a/../../x", sys.ENOENT}, // a does not exist: the walk stops first
		{".//..//x", sys.ENOTCAPABLE},
		{filepath.Join(outside, "secret"), sys.ENOTCAPABLE},
		{"/", sys.ENOTCAPABLE},
		{"abs/secret", sys.ENOTCAPABLE},
		{"rel/secret", sys.ENOTCAPABLE},
		{"abs", sys.ENOTCAPABLE}, // followed as the last component
		{"loop1", sys.ELOOP},
		{"loop1/x", sys.ELOOP},
		{"self/x", sys.ELOOP},
	} {
		n := uint64(h.writeString(fsPath, tc.path))
		h.fill(fsMarker)
		h.writeString(fsPath, tc.path)
		if got := h.call("path_open", harnessPreopenFD, 1, fsPath, n, 0, uint64(sys.RightFdRead), 0, 0, 100); got != tc.want {
			t.Errorf("path_open(%q) = %v, want %v", tc.path, got, tc.want)
		}
		h.expectMem(100, marked(nil, 4))
		if got := h.call("path_filestat_get", harnessPreopenFD, 1, fsPath, n, 100); got != tc.want {
			t.Errorf("path_filestat_get(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
	// Without following, a final symlink is opened as... nothing: ELOOP.
	n := uint64(h.writeString(fsPath, "abs"))
	h.expectErrno(sys.ELOOP, "path_open", harnessPreopenFD, 0, fsPath, n, 0, uint64(sys.RightFdRead), 0, 0, 100)
}

// TestPathOpenRace swaps a directory on the walk for a symlink to outside
// while path_open runs; the outside file must never be opened.
func TestPathOpenRace(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "f"), []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Config{})
	d, real, link := filepath.Join(h.dir, "d"), filepath.Join(h.dir, "real"), filepath.Join(h.dir, "link")
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, h, "d/f", "inside!")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			os.Rename(d, real)
			os.Rename(link, d)
			os.Rename(d, link)
			os.Rename(real, d)
		}
	}()
	defer func() { stop.Store(true); wg.Wait() }()

	n := uint64(h.writeString(fsPath, "d/f"))
	counts := map[sys.Errno]int{}
	for i := 0; i < 1000; i++ {
		errno := h.call("path_open", harnessPreopenFD, 1, fsPath, n, 0, uint64(sys.RightFdRead), 0, 0, 100)
		counts[errno]++
		switch errno {
		case sys.ESUCCESS:
			fd := uint64(h.u32(100))
			h.writeIovecs(fsIovs, [2]uint32{fsBuf, 16})
			h.expectErrno(sys.ESUCCESS, "fd_read", fd, fsIovs, 1, 104)
			if got := string(h.read(fsBuf, h.u32(104))); got != "inside!" {
				t.Fatalf("iteration %d opened a file holding %q", i, got)
			}
			h.expectErrno(sys.ESUCCESS, "fd_close", fd)
		case sys.ENOTCAPABLE, sys.ENOENT, sys.ENOTDIR:
			// ENOTDIR: macOS's component walk (darwinemul) opened d as
			// a directory, without following, as it became the symlink.
		default:
			t.Fatalf("iteration %d: %v", i, errno)
		}
	}
	t.Logf("outcomes: %v", counts)
}

// TestFilesystemEFAULT passes every pointer and length parameter of the
// fd_* and path_* functions out of range: each must be EFAULT, never a
// panic, and must not open anything.
func TestFilesystemEFAULT(t *testing.T) {
	h := newHarness(t, Config{})
	writeFile(t, h, "f", "data")
	if err := os.Symlink("f", filepath.Join(h.dir, "s")); err != nil {
		t.Fatal(err)
	}
	file := uint64(fsOpen(h, "f", 0, sys.RightsAll, 0))
	h.writeString(fsPath, "s")
	h.writeString(fsPath2, "t")
	h.writeIovecs(fsIovs, [2]uint32{fsBuf, 8})
	size := uint64(h.memSize())
	end2 := size - 2 // two bytes before the end: any u32/u64/struct straddles it

	type tc struct {
		name   string
		params []uint64
	}
	base := []tc{
		{"fd_filestat_get", []uint64{file, fsResult}},
		{"fd_pread", []uint64{file, fsIovs, 1, 0, fsResult}},
		{"fd_pwrite", []uint64{file, fsIovs, 1, 0, fsResult}},
		{"fd_readdir", []uint64{harnessPreopenFD, fsBuf, 256, 0, fsResult}},
		{"fd_seek", []uint64{file, 0, 0, fsResult}},
		{"fd_tell", []uint64{file, fsResult}},
		{"path_create_directory", []uint64{harnessPreopenFD, fsPath2, 1}},
		{"path_filestat_get", []uint64{harnessPreopenFD, 0, fsPath, 1, fsResult}},
		{"path_filestat_set_times", []uint64{harnessPreopenFD, 0, fsPath, 1, 0, 0, 0}},
		{"path_link", []uint64{harnessPreopenFD, 0, fsPath, 1, harnessPreopenFD, fsPath2, 1}},
		{"path_open", []uint64{harnessPreopenFD, 0, fsPath2, 1, 1, uint64(sys.RightFdRead), 0, 0, fsResult}},
		{"path_readlink", []uint64{harnessPreopenFD, fsPath, 1, fsBuf, 64, fsResult}},
		{"path_remove_directory", []uint64{harnessPreopenFD, fsPath2, 1}},
		{"path_rename", []uint64{harnessPreopenFD, fsPath2, 1, harnessPreopenFD, fsPath2, 1}},
		{"path_symlink", []uint64{fsPath, 1, harnessPreopenFD, fsPath2, 1}},
		{"path_unlink_file", []uint64{harnessPreopenFD, fsPath2, 1}},
	}
	// Which parameters are fixed-size pointers (p), pointers with a length
	// after them (q) and lengths (l), for each function.
	kinds := map[string]string{
		"fd_filestat_get":         "-p",
		"fd_pread":                "-p--p",
		"fd_pwrite":               "-p--p",
		"fd_readdir":              "-ql-p",
		"fd_seek":                 "---p",
		"fd_tell":                 "-p",
		"path_create_directory":   "-ql",
		"path_filestat_get":       "--qlp",
		"path_filestat_set_times": "--ql---",
		"path_link":               "--ql-ql",
		"path_open":               "--ql----p",
		"path_readlink":           "-qlqlp",
		"path_remove_directory":   "-ql",
		"path_rename":             "-ql-ql",
		"path_symlink":            "ql-ql",
		"path_unlink_file":        "-ql",
	}
	var cases []tc
	for _, b := range base {
		for i, k := range kinds[b.name] {
			var bad []uint64
			switch k {
			case 'p':
				bad = []uint64{end2, size, 0xffffffff}
			case 'q':
				bad = []uint64{size, 0xffffffff}
			case 'l':
				bad = []uint64{size, 0xffffffff}
			}
			for _, v := range bad {
				p := append([]uint64(nil), b.params...)
				p[i] = v
				cases = append(cases, tc{b.name, p})
			}
		}
	}
	// An iovec whose buffer is out of range.
	h.writeIovecs(fsIovs+64, [2]uint32{uint32(end2), 8})
	cases = append(cases,
		tc{"fd_pread", []uint64{file, fsIovs + 64, 1, 0, fsResult}},
		tc{"fd_pwrite", []uint64{file, fsIovs + 64, 1, 0, fsResult}},
		tc{"fd_pread", []uint64{file, end2, 1, 0, fsResult}},
	)
	fds := h.sys.FDs.Len()
	for _, c := range cases {
		if got := h.call(c.name, c.params...); got != sys.EFAULT {
			t.Errorf("%s%v = %v, want EFAULT", c.name, c.params, got)
		}
	}
	if got := h.sys.FDs.Len(); got != fds {
		t.Errorf("%d fds open after the faults, %d before", got, fds)
	}
	for _, name := range []string{"t"} {
		if _, err := os.Lstat(filepath.Join(h.dir, name)); err == nil {
			t.Errorf("%s was created by a faulting call", name)
		}
	}
	// The baselines themselves are valid calls.
	for _, b := range base {
		if got := h.call(b.name, b.params...); got == sys.EFAULT {
			t.Errorf("baseline %s%v = EFAULT", b.name, b.params)
		}
	}
}

func must1[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
