package sys

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// newTestSystem returns a System whose fd 3 is a fresh directory, laid out
// as root/ (an outside directory with a secret) and root/in/ (the preopen).
func newTestSystem(t *testing.T) (s *System, in, outside string) {
	t.Helper()
	root := t.TempDir()
	in = filepath.Join(root, "in")
	outside = filepath.Join(root, "outside")
	for _, d := range []string{in, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := New(nil, nil, nil, []Preopen{{HostPath: in, GuestPath: "/"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, in, outside
}

const testDir = 3

func TestOpenParent(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755)
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	tests := []struct {
		path  string
		name  string
		owned bool
		slash bool
		errno Errno
	}{
		{path: "f", name: "f"},
		{path: "f/", name: "f/", slash: true},
		{path: "f//", name: "f/", slash: true},
		{path: "a/b", name: "b", owned: true},
		{path: "a//b/", name: "b/", owned: true, slash: true},
		{path: ".", name: ".", owned: true},
		{path: "a/..", name: ".", owned: true},
		{path: "a/b/../.", name: ".", owned: true},
		{path: "..", errno: ENOTCAPABLE},
		{path: "../x", errno: ENOTCAPABLE},
		{path: "a/../../x", errno: ENOTCAPABLE},
		{path: "/etc/passwd", errno: ENOTCAPABLE},
		{path: "", errno: ENOENT},
		{path: "a\x00b", errno: EINVAL},
		{path: "missing/x", errno: ENOENT},
	}
	for _, tc := range tests {
		p, errno := openParent(dfd, tc.path)
		if errno != tc.errno {
			t.Errorf("openParent(%q) errno = %v, want %v", tc.path, errno, tc.errno)
			continue
		}
		if errno != 0 {
			continue
		}
		if walkTest && tc.slash {
			// The walk never hands the kernel a trailing slash
			// (keepSlash checks the rule itself).
			tc.name = strings.TrimSuffix(tc.name, "/")
		}
		if p.name != tc.name || p.owned != tc.owned || p.trailingSlash != tc.slash {
			t.Errorf("openParent(%q) = name %q owned %v slash %v, want %q %v %v",
				tc.path, p.name, p.owned, p.trailingSlash, tc.name, tc.owned, tc.slash)
		}
		p.Close()
	}
}

// TestEscapes tries every way out of the preopen with every path function.
func TestEscapes(t *testing.T) {
	s, in, outside := newTestSystem(t)
	must(t, os.Symlink(outside, filepath.Join(in, "abs")))
	must(t, os.Symlink("../outside", filepath.Join(in, "rel")))
	must(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(in, "abssecret")))
	must(t, os.Symlink("loop2", filepath.Join(in, "loop1")))
	must(t, os.Symlink("loop1", filepath.Join(in, "loop2")))
	must(t, os.Mkdir(filepath.Join(in, "sub"), 0o755))
	must(t, os.Symlink("../../outside", filepath.Join(in, "sub", "up2")))

	escapes := []struct {
		path  string
		errno Errno
	}{
		{"../outside/secret", ENOTCAPABLE},
		{"sub/../../outside/secret", ENOTCAPABLE},
		{filepath.Join(outside, "secret"), ENOTCAPABLE},
		{"abs/secret", ENOTCAPABLE},
		{"rel/secret", ENOTCAPABLE},
		{"sub/up2/secret", ENOTCAPABLE},
		{"loop1/x", ELOOP},
	}
	ops := map[string]func(path string) Errno{
		"open": func(p string) Errno {
			fd, errno := s.Open(OpenRequest{Dir: testDir, Path: p, Lookup: LookupSymlinkFollow, RightsBase: RightFdRead})
			if errno == 0 {
				s.CloseFD(fd)
			}
			return errno
		},
		"stat": func(p string) Errno {
			_, errno := s.PathFilestat(testDir, LookupSymlinkFollow, p)
			return errno
		},
		"lstat": func(p string) Errno { _, errno := s.PathFilestat(testDir, 0, p); return errno },
		"utimes": func(p string) Errno {
			return s.PathSetTimes(testDir, LookupSymlinkFollow, p, 0, 0, FstflagAtimNow)
		},
		"mkdir":   func(p string) Errno { return s.CreateDirectory(testDir, p+"d") },
		"unlink":  func(p string) Errno { return s.UnlinkFile(testDir, p) },
		"rmdir":   func(p string) Errno { return s.RemoveDirectory(testDir, p) },
		"symlink": func(p string) Errno { return s.Symlink("x", testDir, p+"l") },
		"readlink": func(p string) Errno {
			_, errno := s.Readlink(testDir, p, make([]byte, 64))
			return errno
		},
		"rename-from": func(p string) Errno { return s.Rename(testDir, p, testDir, "stolen") },
		"rename-to": func(p string) Errno {
			os.WriteFile(filepath.Join(in, "mine"), nil, 0o644)
			return s.Rename(testDir, "mine", testDir, p)
		},
		"link-from":   func(p string) Errno { return s.Link(testDir, 0, p, testDir, "stolen") },
		"link-follow": func(p string) Errno { return s.Link(testDir, LookupSymlinkFollow, p, testDir, "stolen") },
		"link-to": func(p string) Errno {
			os.WriteFile(filepath.Join(in, "mine"), nil, 0o644)
			return s.Link(testDir, 0, "mine", testDir, p+"2")
		},
	}
	for name, op := range ops {
		for _, e := range escapes {
			errno := op(e.path)
			want := e.errno
			if strings.HasPrefix(e.path, "/") {
				want = ENOTCAPABLE
			}
			if errno != want {
				t.Errorf("%s(%q) = %v, want %v", name, e.path, errno, want)
			}
		}
	}
	// Final-component escapes: a symlink named last is not followed by the
	// *at calls, and where it is followed the walk stays beneath.
	for _, p := range []string{"abssecret", "abs", "rel"} {
		if errno := s.PathSetTimes(testDir, LookupSymlinkFollow, p, 0, 0, FstflagMtimNow); errno != ENOTCAPABLE {
			t.Errorf("utimes follow %q = %v, want ENOTCAPABLE", p, errno)
		}
		if _, errno := s.PathFilestat(testDir, 0, p+"/"); errno != ENOTCAPABLE {
			t.Errorf("stat %q/ = %v, want ENOTCAPABLE", p, errno)
		}
		if errno := s.Link(testDir, LookupSymlinkFollow, p, testDir, "hard"); errno != ENOTCAPABLE {
			t.Errorf("link follow %q = %v, want ENOTCAPABLE", p, errno)
		}
	}
	// Creating through a dangling symlink that points outside.
	must(t, os.Symlink(filepath.Join(outside, "new"), filepath.Join(in, "dangling")))
	for _, lookup := range []Lookupflags{0, LookupSymlinkFollow} {
		want := map[Lookupflags]Errno{0: ELOOP, LookupSymlinkFollow: ENOTCAPABLE}[lookup]
		if _, errno := s.Open(OpenRequest{Dir: testDir, Lookup: lookup, Path: "dangling", Oflags: OflagCreat, RightsBase: RightFdWrite}); errno != want {
			t.Errorf("create through dangling symlink (lookup %d) = %v, want %v", lookup, errno, want)
		}
	}
	if errno := s.RemoveDirectory(testDir, ".."); errno != ENOTCAPABLE {
		t.Errorf("rmdir .. = %v, want ENOTCAPABLE", errno)
	}
	// Nothing outside changed.
	ents, _ := os.ReadDir(outside)
	if len(ents) != 1 || ents[0].Name() != "secret" {
		t.Errorf("outside directory changed: %v", ents)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "secret" {
		t.Errorf("secret changed: %q", b)
	}
}

// TestSymlinkRace flips a directory inside the preopen between a real
// directory and a symlink to outside while path_open runs: it must never
// open the outside file.
func TestSymlinkRace(t *testing.T) {
	s, in, outside := newTestSystem(t)
	d := filepath.Join(in, "d")
	must(t, os.Mkdir(d, 0o755))
	must(t, os.WriteFile(filepath.Join(d, "secret"), []byte("inside"), 0o644))
	real, link := filepath.Join(in, "d.real"), filepath.Join(in, "d.link")
	must(t, os.Symlink(outside, link))

	stop := flipToSymlink(d, real, link)
	opened, refused := 0, 0
	buf := make([]byte, 16)
	for i := 0; i < 3000; i++ {
		fd, errno := s.Open(OpenRequest{Dir: testDir, Lookup: LookupSymlinkFollow, Path: "d/secret", RightsBase: RightFdRead})
		switch errno {
		case ESUCCESS:
			opened++
			n, errno := s.Read(fd, [][]byte{buf})
			s.CloseFD(fd)
			if errno != 0 || string(buf[:n]) != "inside" {
				stop()
				t.Fatalf("iteration %d: read %q (%v), want the inside file", i, buf[:n], errno)
			}
		case ENOTCAPABLE, ENOENT, ENOTDIR:
			// ENOTDIR: the component walk of macOS (darwinemul) opened
			// d as a directory, without following, just as it became
			// the symlink: a refusal too.
			refused++
		default:
			t.Errorf("iteration %d: errno %v", i, errno)
		}
	}
	stop()
	t.Logf("opened %d, refused %d", opened, refused)
	// With the flipping stopped, d is the real directory again.
	fd, errno := s.Open(OpenRequest{Dir: testDir, Lookup: LookupSymlinkFollow, Path: "d/secret", RightsBase: RightFdRead})
	if errno != 0 {
		t.Fatalf("open after the race = %v", errno)
	}
	n, _ := s.Read(fd, [][]byte{buf})
	if string(buf[:n]) != "inside" {
		t.Errorf("after the race read %q", buf[:n])
	}
}

func TestOpenRightsAndModes(t *testing.T) {
	s, in, _ := newTestSystem(t)
	must(t, os.WriteFile(filepath.Join(in, "f"), []byte("data"), 0o644))
	must(t, os.Mkdir(filepath.Join(in, "dir"), 0o755))
	must(t, os.Symlink("f", filepath.Join(in, "lnk")))

	open := func(path string, lookup Lookupflags, o Oflags, base Rights) (*File, Errno) {
		fd, errno := s.Open(OpenRequest{Dir: testDir, Lookup: lookup, Path: path, Oflags: o, RightsBase: base, RightsInheriting: RightsAll})
		if errno != 0 {
			return nil, errno
		}
		f, _ := s.Lookup(fd)
		t.Cleanup(func() { s.CloseFD(fd) })
		return f, 0
	}
	accmode := func(f *File) int {
		fl, err := unix.FcntlInt(uintptr(f.Fd), unix.F_GETFL, 0)
		if err != nil {
			t.Fatal(err)
		}
		return fl & unix.O_ACCMODE
	}

	f, errno := open("f", 0, 0, RightsAll)
	if errno != 0 || f.Type != FiletypeRegularFile || f.RightsBase != RightsRegularFile || f.RightsInheriting != 0 || accmode(f) != unix.O_RDWR {
		t.Errorf("open f rw: %v %+v", errno, f)
	}
	// Read-only: every non-data right of a file, FD_READ, and no FD_WRITE.
	if f, _ := open("f", 0, 0, RightFdRead); f == nil || accmode(f) != unix.O_RDONLY || f.RightsBase != RightsRegularFile&^RightFdWrite {
		t.Errorf("open f r: %+v", f)
	}
	if f, _ := open("f", 0, 0, RightFdWrite); f == nil || accmode(f) != unix.O_WRONLY || f.RightsBase != RightsRegularFile&^RightFdRead {
		t.Errorf("open f w: %+v", f)
	}
	if f, errno := open("dir", 0, 0, RightFdRead|RightFdReaddir|RightPathOpen); errno != 0 || f.Type != FiletypeDirectory || f.RightsBase != RightsDirectory {
		t.Errorf("open dir: %v %+v", errno, f)
	}
	if _, errno := open("dir", 0, 0, RightFdRead|RightFdWrite); errno != EISDIR {
		t.Errorf("open dir for writing = %v, want EISDIR", errno)
	}
	if _, errno := open("f", 0, OflagDirectory, RightFdRead); errno != ENOTDIR {
		t.Errorf("open f DIRECTORY = %v, want ENOTDIR", errno)
	}
	if _, errno := open("lnk", 0, 0, RightFdRead); errno != ELOOP {
		t.Errorf("open symlink without follow = %v, want ELOOP", errno)
	}
	if _, errno := open("lnk", LookupSymlinkFollow, 0, RightFdRead); errno != 0 {
		t.Errorf("open symlink with follow = %v", errno)
	}
	if _, errno := open("f", 0, OflagCreat|OflagExcl, RightFdWrite); errno != EEXIST {
		t.Errorf("CREAT|EXCL existing = %v, want EEXIST", errno)
	}
	if f, errno := open("new", 0, OflagCreat|OflagExcl, RightFdWrite); errno != 0 || f.Type != FiletypeRegularFile {
		t.Errorf("CREAT|EXCL new = %v", errno)
	}
	if _, errno := open("f", 0, OflagTrunc, RightFdWrite); errno != 0 {
		t.Errorf("TRUNC = %v", errno)
	} else if st, _ := os.Stat(filepath.Join(in, "f")); st.Size() != 0 {
		t.Errorf("TRUNC left size %d", st.Size())
	}
	if _, errno := s.Open(OpenRequest{Dir: testDir, Path: "f", Oflags: 16}); errno != EINVAL {
		t.Errorf("unknown oflags = %v, want EINVAL", errno)
	}
	if _, errno := s.Open(OpenRequest{Dir: 99, Path: "f"}); errno != EBADF {
		t.Errorf("bad dirfd = %v, want EBADF", errno)
	}

	// A directory whose inheriting rights lack FD_WRITE hands out read-only
	// descriptors, and cannot create without PATH_CREATE_FILE.
	dir, _ := s.Lookup(testDir)
	dir.RightsInheriting &^= RightFdWrite
	if f, _ := open("f", 0, 0, RightFdRead|RightFdWrite); f == nil || f.Has(RightFdWrite) {
		t.Errorf("write right not narrowed: %+v", f)
	}
	dir.RightsBase &^= RightPathCreateFile
	if _, errno := open("x", 0, OflagCreat, RightFdWrite); errno != ENOTCAPABLE {
		t.Errorf("CREAT without PATH_CREATE_FILE = %v, want ENOTCAPABLE", errno)
	}
	// A regular file is not a directory for path functions.
	ffd, _ := s.Open(OpenRequest{Dir: testDir, Path: "f", RightsBase: RightFdRead})
	if _, errno := s.Open(OpenRequest{Dir: ffd, Path: "x"}); errno != ENOTDIR {
		t.Errorf("open beneath a file = %v, want ENOTDIR", errno)
	}
}

func TestDotAndTrailingSlash(t *testing.T) {
	s, in, _ := newTestSystem(t)
	must(t, os.Mkdir(filepath.Join(in, "dir"), 0o755))
	must(t, os.WriteFile(filepath.Join(in, "f"), nil, 0o644))
	must(t, os.Symlink("f", filepath.Join(in, "lnk")))

	cases := []struct {
		name string
		got  Errno
		want Errno
	}{
		{"mkdir .", s.CreateDirectory(testDir, "."), EEXIST},
		{"mkdir dir/..", s.CreateDirectory(testDir, "dir/.."), EEXIST},
		{"rmdir .", s.RemoveDirectory(testDir, "."), EINVAL},
		{"rmdir dir/..", s.RemoveDirectory(testDir, "dir/.."), EINVAL},
		{"unlink .", s.UnlinkFile(testDir, "."), EISDIR},
		{"unlink f/", s.UnlinkFile(testDir, "f/"), ENOTDIR},
		{"unlink lnk/", s.UnlinkFile(testDir, "lnk/"), ENOTDIR},
		{"rmdir lnk/", s.RemoveDirectory(testDir, "lnk/"), ENOTDIR},
		{"mkdir new/", s.CreateDirectory(testDir, "new/"), ESUCCESS},
		{"rmdir new/", s.RemoveDirectory(testDir, "new/"), ESUCCESS},
		{"unlink dir", s.UnlinkFile(testDir, "dir"), EISDIR},
		{"rmdir f", s.RemoveDirectory(testDir, "f"), ENOTDIR},
		{"symlink to .", s.Symlink("x", testDir, "."), EEXIST},
		{"symlink empty target", s.Symlink("", testDir, "y"), ENOENT},
		{"rename . ", s.Rename(testDir, ".", testDir, "z"), EBUSY},
		{"link dir", s.Link(testDir, 0, "dir", testDir, "dir2"), EPERM},
		{"link dir/", s.Link(testDir, 0, "dir/", testDir, "dir2"), EPERM},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if _, errno := s.PathFilestat(testDir, 0, "f/"); errno != ENOTDIR {
		t.Errorf("stat f/ = %v, want ENOTDIR", errno)
	}
	if st, errno := s.PathFilestat(testDir, 0, "dir/"); errno != 0 || st.Type != FiletypeDirectory {
		t.Errorf("stat dir/ = %v %v", errno, st.Type)
	}
	if st, errno := s.PathFilestat(testDir, 0, "lnk"); errno != 0 || st.Type != FiletypeSymbolicLink {
		t.Errorf("lstat lnk = %v %v", errno, st.Type)
	}
	if st, errno := s.PathFilestat(testDir, LookupSymlinkFollow, "lnk"); errno != 0 || st.Type != FiletypeRegularFile {
		t.Errorf("stat lnk = %v %v", errno, st.Type)
	}
	if _, err := os.Stat(in); err != nil {
		t.Errorf("preopen gone: %v", err)
	}
}

func TestReaddirSnapshot(t *testing.T) {
	s, in, _ := newTestSystem(t)
	for _, n := range []string{"a", "b", "c"} {
		must(t, os.WriteFile(filepath.Join(in, n), nil, 0o644))
	}
	must(t, os.Mkdir(filepath.Join(in, "d"), 0o755))
	ents, errno := s.Readdir(testDir, 0)
	if errno != 0 || len(ents) != 6 {
		t.Fatalf("Readdir = %v, %d entries", errno, len(ents))
	}
	types := map[string]Filetype{}
	for _, e := range ents {
		types[e.Name] = e.Type
	}
	want := map[string]Filetype{".": FiletypeDirectory, "..": FiletypeDirectory, "a": FiletypeRegularFile,
		"b": FiletypeRegularFile, "c": FiletypeRegularFile, "d": FiletypeDirectory}
	for n, ty := range want {
		if types[n] != ty {
			t.Errorf("%s: type %v, want %v", n, types[n], ty)
		}
	}
	// Later cookies page through the snapshot; a rewind rereads.
	must(t, os.WriteFile(filepath.Join(in, "e"), nil, 0o644))
	if rest, _ := s.Readdir(testDir, 4); len(rest) != 2 {
		t.Errorf("Readdir(4) = %d entries, want 2", len(rest))
	}
	if rest, _ := s.Readdir(testDir, 100); len(rest) != 0 {
		t.Errorf("Readdir(100) = %d entries, want 0", len(rest))
	}
	if ents, _ := s.Readdir(testDir, 0); len(ents) != 7 {
		t.Errorf("after rewind %d entries, want 7", len(ents))
	}
}

func TestRenumber(t *testing.T) {
	s, in, _ := newTestSystem(t)
	must(t, os.WriteFile(filepath.Join(in, "f"), nil, 0o644))
	fd, _ := s.Open(OpenRequest{Dir: testDir, Path: "f", RightsBase: RightFdRead})
	f, _ := s.Lookup(fd)
	pre, _ := s.Lookup(testDir)
	if errno := s.Renumber(fd, 99); errno != EBADF {
		t.Errorf("renumber to closed fd = %v, want EBADF", errno)
	}
	if errno := s.Renumber(fd, testDir); errno != 0 {
		t.Fatalf("renumber onto preopen = %v", errno)
	}
	if got, _ := s.Lookup(testDir); got != f {
		t.Error("fd 3 is not the moved file")
	}
	if _, errno := s.Lookup(fd); errno != EBADF {
		t.Error("old fd still open")
	}
	if _, err := unix.FcntlInt(uintptr(pre.Fd), unix.F_GETFD, 0); !errors.Is(err, unix.EBADF) {
		t.Errorf("replaced preopen's host fd still open: %v", err)
	}
	if errno := s.Renumber(testDir, testDir); errno != 0 {
		t.Errorf("renumber to itself = %v", errno)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestOpenFIFONonblock: opening a FIFO without a writer with NONBLOCK does
// not hang, and the host descriptor is left blocking (NONBLOCK is emulated).
func TestOpenFIFONonblock(t *testing.T) {
	s, in, _ := newTestSystem(t)
	must(t, unix.Mkfifo(filepath.Join(in, "fifo"), 0o644))
	fd, errno := s.Open(OpenRequest{Dir: testDir, Path: "fifo", RightsBase: RightFdRead, Fdflags: FdflagNonblock})
	if errno != 0 {
		t.Fatalf("open fifo = %v", errno)
	}
	f, _ := s.Lookup(fd)
	if f.Flags != FdflagNonblock || f.Type != FiletypeUnknown {
		t.Errorf("flags %v type %v", f.Flags, f.Type)
	}
	fl, err := unix.FcntlInt(uintptr(f.Fd), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_NONBLOCK != 0 {
		t.Errorf("host flags %#x (%v): O_NONBLOCK still set", fl, err)
	}
	if _, errno := s.Read(fd, [][]byte{make([]byte, 4)}); errno != EAGAIN {
		t.Errorf("read = %v, want EAGAIN", errno)
	}
}

// TestPathRights: each path operation needs its right on the directory
// (ENOTCAPABLE without it) and a directory at all (ENOTDIR on a file).
func TestPathRights(t *testing.T) {
	s, in, _ := newTestSystem(t)
	must(t, os.WriteFile(filepath.Join(in, "f"), nil, 0o644))
	file, errno := s.Open(OpenRequest{Dir: testDir, Path: "f", RightsBase: RightsAll})
	if errno != 0 {
		t.Fatal(errno)
	}
	ops := map[string]struct {
		right Rights
		op    func(dir int32) Errno
	}{
		"open":    {RightPathOpen, func(d int32) Errno { _, e := s.Open(OpenRequest{Dir: d, Path: "f"}); return e }},
		"create":  {RightPathCreateFile, func(d int32) Errno { _, e := s.Open(OpenRequest{Dir: d, Path: "n", Oflags: OflagCreat}); return e }},
		"trunc":   {RightPathFilestatSetSize, func(d int32) Errno { _, e := s.Open(OpenRequest{Dir: d, Path: "f", Oflags: OflagTrunc}); return e }},
		"mkdir":   {RightPathCreateDirectory, func(d int32) Errno { return s.CreateDirectory(d, "x") }},
		"rmdir":   {RightPathRemoveDirectory, func(d int32) Errno { return s.RemoveDirectory(d, "x") }},
		"unlink":  {RightPathUnlinkFile, func(d int32) Errno { return s.UnlinkFile(d, "f") }},
		"symlink": {RightPathSymlink, func(d int32) Errno { return s.Symlink("f", d, "l") }},
		"readlink": {RightPathReadlink, func(d int32) Errno {
			_, e := s.Readlink(d, "l", make([]byte, 8))
			return e
		}},
		"stat":       {RightPathFilestatGet, func(d int32) Errno { _, e := s.PathFilestat(d, 0, "f"); return e }},
		"utimes":     {RightPathFilestatSetTimes, func(d int32) Errno { return s.PathSetTimes(d, 0, "f", 0, 0, 0) }},
		"rename-src": {RightPathRenameSource, func(d int32) Errno { return s.Rename(d, "f", testDir, "g") }},
		"rename-dst": {RightPathRenameTarget, func(d int32) Errno { return s.Rename(testDir, "f", d, "g") }},
		"link-src":   {RightPathLinkSource, func(d int32) Errno { return s.Link(d, 0, "f", testDir, "g") }},
		"link-dst":   {RightPathLinkTarget, func(d int32) Errno { return s.Link(testDir, 0, "f", d, "g") }},
		"readdir":    {RightFdReaddir, func(d int32) Errno { _, e := s.Readdir(d, 0); return e }},
	}
	dir, _ := s.Lookup(testDir)
	for name, o := range ops {
		if got := o.op(file); got != ENOTDIR && !(name == "readdir" && got == ENOTCAPABLE) {
			t.Errorf("%s on a file = %v, want ENOTDIR", name, got)
		}
		if got := o.op(99); got != EBADF {
			t.Errorf("%s on fd 99 = %v, want EBADF", name, got)
		}
		saved := dir.RightsBase
		dir.RightsBase &^= o.right
		got := o.op(testDir)
		dir.RightsBase = saved
		if got != ENOTCAPABLE {
			t.Errorf("%s without its right = %v, want ENOTCAPABLE", name, got)
		}
	}
	ents, _ := os.ReadDir(in)
	if len(ents) != 1 {
		t.Errorf("operations without rights changed the directory: %v", ents)
	}
}
