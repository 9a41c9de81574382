package sys

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/wasmrun/wasmrun/wasi/internal/wintest"
)

// The Windows backend's files and directories: every path stays beneath
// its preopen (os.Root), read-only preopens change nothing, and the file
// calls behave as on Linux.

// newWindowsSystem makes a System with a read-write preopen (fd 3) and a
// read-only one (fd 4), each a directory inside a parent holding
// outside.txt, which no guest path may reach.
func newWindowsSystem(t *testing.T) (s *System, rw, ro string) {
	t.Helper()
	top := tempDir(t)
	rw, ro = filepath.Join(top, "rw"), filepath.Join(top, "ro")
	for _, d := range []string{rw, ro, filepath.Join(rw, "sub")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(top, "outside.txt"), []byte("secret"), 0o644)
	os.WriteFile(filepath.Join(ro, "keep.txt"), []byte("keep"), 0o644)
	s, err := New(nil, nil, nil, []Preopen{{HostPath: rw, GuestPath: "/rw"}, {HostPath: ro, GuestPath: "/ro", ReadOnly: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, rw, ro
}

func openReq(dir int32, path string, oflags Oflags, rights Rights) OpenRequest {
	return OpenRequest{Dir: dir, Path: path, Oflags: oflags, RightsBase: rights, RightsInheriting: RightsAll, Lookup: LookupSymlinkFollow}
}

func TestWindowsEscapes(t *testing.T) {
	s, rw, _ := newWindowsSystem(t)
	for _, p := range []string{
		"..", "../outside.txt", "sub/../../outside.txt", `..\outside.txt`, `sub\..\..\outside.txt`,
		"/outside.txt", `C:\Windows\win.ini`, `C:outside.txt`, `\\?\C:\Windows\win.ini`, `\outside.txt`,
	} {
		for _, oflags := range []Oflags{0, OflagCreat} {
			if fd, errno := s.Open(openReq(3, p, oflags, RightFdRead|RightFdWrite)); errno == 0 {
				t.Errorf("open %q (oflags %d) = fd %d, want an error", p, oflags, fd)
			}
		}
		if errno := s.CreateDirectory(3, p+"/x"); errno == 0 {
			t.Errorf("mkdir %q succeeded", p+"/x")
		}
		if errno := s.UnlinkFile(3, p); errno == 0 {
			t.Errorf("unlink %q succeeded", p)
		}
		if errno := s.Rename(3, p, 3, "stolen"); errno == 0 {
			t.Errorf("rename %q succeeded", p)
		}
		if _, errno := s.PathFilestat(3, LookupSymlinkFollow, p); errno == 0 && p != ".." {
			t.Errorf("stat %q succeeded", p)
		}
	}
	if _, errno := s.Open(openReq(3, "../outside.txt", 0, RightFdRead)); errno != ENOTCAPABLE {
		t.Errorf("open ../outside.txt = %s, want ENOTCAPABLE", errno.Name())
	}
	if _, errno := s.Open(openReq(3, "/outside.txt", 0, RightFdRead)); errno != ENOTCAPABLE {
		t.Errorf("open /outside.txt = %s, want ENOTCAPABLE", errno.Name())
	}
	// A directory opened beneath the preopen is a root of its own.
	sub, errno := s.Open(openReq(3, "sub", OflagDirectory, RightFdReaddir))
	if errno != 0 {
		t.Fatal(errno.Name())
	}
	if _, errno := s.Open(openReq(sub, "../../outside.txt", 0, RightFdRead)); errno != ENOTCAPABLE {
		t.Errorf("open ../../outside.txt beneath sub = %s, want ENOTCAPABLE", errno.Name())
	}
	if b, _ := os.ReadFile(filepath.Join(filepath.Dir(rw), "outside.txt")); string(b) != "secret" {
		t.Errorf("outside.txt is %q now", b)
	}
	ents, _ := os.ReadDir(filepath.Dir(rw))
	if len(ents) != 3 {
		t.Errorf("beside the preopens: %v, want outside.txt, ro and rw", ents)
	}
}

func TestWindowsReadOnly(t *testing.T) {
	s, _, ro := newWindowsSystem(t)
	if _, errno := s.Open(openReq(4, "keep.txt", 0, RightFdWrite)); errno != EROFS {
		t.Errorf("open for writing = %s, want EROFS", errno.Name())
	}
	if _, errno := s.Open(openReq(4, "new.txt", OflagCreat, RightFdRead)); errno != EROFS {
		t.Errorf("create = %s, want EROFS", errno.Name())
	}
	for name, errno := range map[string]Errno{
		"mkdir":   s.CreateDirectory(4, "d"),
		"unlink":  s.UnlinkFile(4, "keep.txt"),
		"rename":  s.Rename(4, "keep.txt", 4, "moved.txt"),
		"symlink": s.Symlink("keep.txt", 4, "l"),
		"link":    s.Link(4, 0, "keep.txt", 3, "l"),
		"times":   s.PathSetTimes(4, 0, "keep.txt", 0, 0, FstflagMtimNow),
	} {
		if errno != EROFS {
			t.Errorf("%s = %s, want EROFS", name, errno.Name())
		}
	}
	fd, errno := s.Open(openReq(4, "keep.txt", 0, RightFdRead|RightFdWrite|RightFdFilestatSetSize))
	if errno != EROFS {
		t.Errorf("open read-write = fd %d, %s, want EROFS", fd, errno.Name())
	}
	fd, errno = s.Open(openReq(4, "keep.txt", 0, RightFdRead))
	if errno != 0 {
		t.Fatal(errno.Name())
	}
	if _, errno := s.Write(fd, [][]byte{[]byte("x")}); errno != EROFS {
		t.Errorf("write = %s, want EROFS", errno.Name())
	}
	if errno := s.SetSize(fd, 0); errno != EROFS {
		t.Errorf("truncate = %s, want EROFS", errno.Name())
	}
	ents, _ := os.ReadDir(ro)
	if b, _ := os.ReadFile(filepath.Join(ro, "keep.txt")); len(ents) != 1 || string(b) != "keep" {
		t.Errorf("the read-only preopen changed: %v, %q", ents, b)
	}
}

func TestWindowsFiles(t *testing.T) {
	s, rw, _ := newWindowsSystem(t)
	fd, errno := s.Open(openReq(3, "sub/a.txt", OflagCreat|OflagExcl, RightFdRead|RightFdWrite|RightFdSeek|RightFdTell))
	if errno != 0 {
		t.Fatal(errno.Name())
	}
	if _, errno := s.Open(openReq(3, "sub/a.txt", OflagCreat|OflagExcl, RightFdRead)); errno != EEXIST {
		t.Errorf("O_EXCL on an existing file = %s, want EEXIST", errno.Name())
	}
	if n, errno := s.Write(fd, [][]byte{[]byte("hello, "), []byte("world")}); n != 12 || errno != 0 {
		t.Fatalf("write = %d, %s", n, errno.Name())
	}
	if pos, errno := s.Tell(fd); pos != 12 || errno != 0 {
		t.Errorf("tell = %d, %s", pos, errno.Name())
	}
	if n, errno := s.Pwrite(fd, [][]byte{[]byte("W")}, 7); n != 1 || errno != 0 {
		t.Errorf("pwrite = %d, %s", n, errno.Name())
	}
	buf := make([]byte, 5)
	if n, errno := s.Pread(fd, [][]byte{buf}, 7); n != 5 || errno != 0 || string(buf) != "World" {
		t.Errorf("pread = %d, %s, %q", n, errno.Name(), buf)
	}
	if pos, errno := s.Tell(fd); pos != 12 || errno != 0 {
		t.Errorf("tell after pread/pwrite = %d, %s; the position moved", pos, errno.Name())
	}
	if pos, errno := s.Seek(fd, 0, WhenceSet); pos != 0 || errno != 0 {
		t.Errorf("seek = %d, %s", pos, errno.Name())
	}
	b1, b2 := make([]byte, 3), make([]byte, 20)
	if n, errno := s.Read(fd, [][]byte{b1, b2}); n != 12 || errno != 0 || string(b1)+string(b2[:9]) != "hello, World" {
		t.Errorf("read = %d, %s, %q %q", n, errno.Name(), b1, b2)
	}
	if n, errno := s.Read(fd, [][]byte{b2}); n != 0 || errno != 0 {
		t.Errorf("read at the end = %d, %s", n, errno.Name())
	}
	ro, errno := s.Open(openReq(3, "sub/a.txt", 0, RightFdRead|RightFdFilestatSetTimes))
	if errno != 0 {
		t.Fatal(errno.Name())
	}
	for _, d := range []int32{ro, 3} { // read-only, and a directory
		if errno := s.SetTimes(d, 0, 1234567890_000_000_000, FstflagMtim); errno != 0 {
			t.Errorf("set times of fd %d: %s", d, errno.Name())
		} else if st, _ := s.Filestat(d); st.Mtim != 1234567890_000_000_000 {
			t.Errorf("fd %d mtime = %d after setting it", d, st.Mtim)
		}
	}
	s.CloseFD(ro)
	st, errno := s.Filestat(fd)
	if errno != 0 || st.Type != FiletypeRegularFile || st.Size != 12 || st.Nlink != 1 || st.Ino == 0 {
		t.Errorf("filestat = %+v, %s", st, errno.Name())
	}
	if _, errno := s.Seek(0, 0, WhenceCur); errno != ESPIPE {
		t.Errorf("seek on stdin = %s, want ESPIPE", errno.Name())
	}
	if _, errno := s.Read(3, [][]byte{buf}); errno != EISDIR && errno != ENOTCAPABLE {
		t.Errorf("read of a directory = %s", errno.Name())
	}

	if errno := s.Link(3, 0, "sub/a.txt", 3, "b.txt"); errno != 0 {
		t.Errorf("link: %s", errno.Name())
	}
	if st, _ := s.PathFilestat(3, 0, "b.txt"); st.Nlink != 2 {
		t.Errorf("nlink after link = %d", st.Nlink)
	}
	sub, errno := s.Open(openReq(3, "sub", OflagDirectory, RightFdReaddir))
	if errno != 0 {
		t.Fatal(errno.Name())
	}
	// Between two directory descriptors of one preopen.
	if errno := s.Rename(sub, "a.txt", 3, "c.txt"); errno != 0 {
		t.Errorf("rename between directories: %s", errno.Name())
	}
	if errno := s.Rename(3, "c.txt", 4, "c.txt"); errno != EROFS && errno != EXDEV {
		t.Errorf("rename into the other preopen = %s", errno.Name())
	}
	if errno := s.UnlinkFile(3, "b.txt"); errno != 0 {
		t.Errorf("unlink: %s", errno.Name())
	}
	if errno := s.UnlinkFile(3, "sub"); errno != EISDIR {
		t.Errorf("unlink of a directory = %s, want EISDIR", errno.Name())
	}
	if errno := s.CreateDirectory(3, "sub/d"); errno != 0 {
		t.Errorf("mkdir: %s", errno.Name())
	}
	if errno := s.CreateDirectory(3, "sub/d"); errno != EEXIST {
		t.Errorf("mkdir again = %s, want EEXIST", errno.Name())
	}
	os.WriteFile(filepath.Join(rw, "sub", "d", "x"), nil, 0o644)
	if errno := s.RemoveDirectory(3, "sub/d"); errno != ENOTEMPTY {
		t.Errorf("rmdir of a full directory = %s, want ENOTEMPTY", errno.Name())
	}
	if errno := s.RemoveDirectory(3, "c.txt"); errno != ENOTDIR {
		t.Errorf("rmdir of a file = %s, want ENOTDIR", errno.Name())
	}
	if _, errno := s.Open(openReq(3, "missing", 0, RightFdRead)); errno != ENOENT {
		t.Errorf("open missing = %s, want ENOENT", errno.Name())
	}
	if _, errno := s.Open(openReq(3, "c.txt", OflagDirectory, RightFdRead)); errno != ENOTDIR {
		t.Errorf("open a file as a directory = %s, want ENOTDIR", errno.Name())
	}
	if _, errno := s.Open(openReq(3, "sub", 0, RightFdWrite)); errno != EISDIR {
		t.Errorf("open a directory for writing = %s, want EISDIR", errno.Name())
	}

	// Readdir: "." and "..", then the entries; cookies page through.
	all, errno := s.Readdir(sub, 0)
	var names []string
	for _, e := range all {
		names = append(names, e.Name)
	}
	sort.Strings(names)
	if errno != 0 || len(names) != 3 || names[0] != "." || names[1] != ".." || names[2] != "d" {
		t.Errorf("readdir = %v, %s", names, errno.Name())
	}
	if rest, errno := s.Readdir(sub, 2); errno != 0 || len(rest) != 1 {
		t.Errorf("readdir from cookie 2 = %v, %s", rest, errno.Name())
	}
	if rest, errno := s.Readdir(sub, 9); errno != 0 || len(rest) != 0 {
		t.Errorf("readdir past the end = %v, %s", rest, errno.Name())
	}
	if _, errno := s.Readdir(fd, 0); errno != ENOTDIR && errno != ENOTCAPABLE {
		t.Errorf("readdir of a file = %s", errno.Name())
	}
	if errno := s.CloseFD(3); errno != 0 {
		t.Errorf("close the preopen: %s", errno.Name())
	}
	// sub still works without its preopen's descriptor.
	if _, errno := s.Open(openReq(sub, "d/x", 0, RightFdRead)); errno != 0 {
		t.Errorf("open beneath sub after closing the preopen: %s", errno.Name())
	}
}

// tempDir is t.TempDir, as Wine can remove it (wintest.TempDir).
func tempDir(t *testing.T) string { return wintest.TempDir(t) }
