package sys

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReadOnlyPreopen: beneath a read-only preopen every call that would
// change the file system is EROFS, including through a directory opened
// from it, a file opened for reading, a hard link or rename to a writable
// preopen, and a Unix socket bound there; the host files are unchanged and
// reading works. This is the WASI layer alone (as under `wasmrun run`): no
// mount namespace backs it here.
func TestReadOnlyPreopen(t *testing.T) {
	ro, rw := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(ro, "f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(ro, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	st0, _ := os.Stat(filepath.Join(ro, "f"))
	s, err := New(nil, nil, nil, []Preopen{{HostPath: ro, GuestPath: "/ro", ReadOnly: true}, {HostPath: rw, GuestPath: "/rw"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const roFD, rwFD = 3, 4
	open := func(dir int32, p string, o Oflags, r Rights) (int32, Errno) {
		return s.Open(OpenRequest{Dir: dir, Path: p, Oflags: o, RightsBase: r, RightsInheriting: RightsAll})
	}
	readFD, errno := open(roFD, "f", 0, RightFdRead)
	if errno != 0 {
		t.Fatalf("open for reading: %v", errno)
	}
	subFD, errno := open(roFD, "d", OflagDirectory, RightFdReaddir)
	if errno != 0 {
		t.Fatalf("open a subdirectory: %v", errno)
	}
	for _, tc := range []struct {
		name string
		call func() Errno
	}{
		{"open for writing", func() Errno { _, e := open(roFD, "f", 0, RightFdWrite); return e }},
		{"open to truncate", func() Errno { _, e := open(roFD, "f", OflagTrunc, RightFdRead); return e }},
		{"create", func() Errno { _, e := open(roFD, "new", OflagCreat, RightFdRead|RightFdWrite); return e }},
		{"create in a subdirectory", func() Errno { _, e := open(subFD, "new", OflagCreat, RightFdWrite); return e }},
		{"write a file opened for reading", func() Errno { _, e := s.Write(readFD, [][]byte{[]byte("x")}); return e }},
		{"set its size", func() Errno { return s.SetSize(readFD, 0) }},
		{"set its times", func() Errno { return s.SetTimes(readFD, 0, 0, FstflagAtim|FstflagMtim) }},
		{"allocate", func() Errno { return s.Allocate(readFD, 0, 10) }},
		{"set times by path", func() Errno { return s.PathSetTimes(roFD, 0, "f", 0, 0, FstflagMtim) }},
		{"mkdir", func() Errno { return s.CreateDirectory(roFD, "x") }},
		{"rmdir", func() Errno { return s.RemoveDirectory(roFD, "d") }},
		{"unlink", func() Errno { return s.UnlinkFile(roFD, "f") }},
		{"symlink", func() Errno { return s.Symlink("f", roFD, "l") }},
		{"rename within", func() Errno { return s.Rename(roFD, "f", roFD, "g") }},
		{"rename out", func() Errno { return s.Rename(roFD, "f", rwFD, "g") }},
		{"rename in", func() Errno { return s.Rename(rwFD, "nothing", roFD, "g") }},
		{"hard link out (to write it there)", func() Errno { return s.Link(roFD, 0, "f", rwFD, "l") }},
		{"hard link in", func() Errno { return s.Link(rwFD, 0, "nothing", roFD, "l") }},
		{"bind a Unix socket", func() Errno {
			fd, e := s.SockOpen(AFUnix, SockStream)
			if e != 0 {
				return e
			}
			return s.SockBind(fd, Addr{Family: AFUnix, Path: "/ro/sock"})
		}},
	} {
		if got := tc.call(); got != EROFS {
			t.Errorf("%s: %v, want EROFS", tc.name, got)
		}
	}
	if n, errno := s.Read(readFD, [][]byte{make([]byte, 4)}); errno != 0 || n != 4 {
		t.Errorf("read: %d, %v", n, errno)
	}
	if f, _ := s.Lookup(readFD); f != nil {
		if fl, _ := fcntlFlags(f.Fd); fl&os.O_WRONLY|fl&os.O_RDWR != 0 {
			t.Errorf("the host descriptor is open for writing (flags %#x)", fl)
		}
	}
	st1, _ := os.Stat(filepath.Join(ro, "f"))
	ents, _ := os.ReadDir(ro)
	if b, _ := os.ReadFile(filepath.Join(ro, "f")); string(b) != "data" || !st1.ModTime().Equal(st0.ModTime()) || len(ents) != 2 {
		t.Errorf("the read-only directory changed: %q, mtime %v -> %v, %d entries", b, st0.ModTime(), st1.ModTime(), len(ents))
	}
	if ents, _ := os.ReadDir(rw); len(ents) != 0 {
		t.Errorf("the writable directory got %d entries", len(ents))
	}
	// The writable preopen stays writable.
	if _, errno := open(rwFD, "new", OflagCreat, RightFdWrite); errno != 0 {
		t.Errorf("create in the writable preopen: %v", errno)
	}
}

func fcntlFlags(fd int) (int, error) {
	return unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
}

// TestNewPreopenFails: a preopen that cannot be opened is an error, and
// what New had opened is closed (it used to crash on the way out).
func TestNewPreopenFails(t *testing.T) {
	s, err := New(nil, nil, nil, []Preopen{{HostPath: t.TempDir(), GuestPath: "/a"}, {HostPath: filepath.Join(t.TempDir(), "missing"), GuestPath: "/b"}})
	if err == nil || s != nil {
		t.Fatalf("New with a missing preopen: %v, %v", s, err)
	}
}

// TestKernelFSNotWritable: through a writable preopen of /proc (or of /,
// with /proc beneath), the guest may read the kernel's files but open
// none for writing: not /proc/self/mem (the host process's memory), not
// /proc/sys (the host's settings).
func TestKernelFSNotWritable(t *testing.T) {
	s, err := New(nil, nil, nil, []Preopen{{HostPath: "/proc", GuestPath: "/proc"}, {HostPath: "/", GuestPath: "/host"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		dir  int32
		path string
	}{{3, "self/mem"}, {3, "sys/kernel/hostname"}, {4, "proc/self/mem"}, {4, "sys/kernel/mm/transparent_hugepage/enabled"}} {
		if _, errno := s.Open(OpenRequest{Dir: tc.dir, Path: tc.path, RightsBase: RightFdWrite, Lookup: LookupSymlinkFollow}); errno != EROFS {
			t.Errorf("open %s for writing: %v, want EROFS", tc.path, errno)
		}
	}
	if _, errno := s.Open(OpenRequest{Dir: 3, Path: "self/status", RightsBase: RightFdRead}); errno != 0 {
		t.Errorf("open self/status for reading: %v", errno)
	}
}

// TestNestedPreopenLinks: a preopen within another is resolved within
// it, as the guest of the outer one could have changed it: a link there
// that stays inside leads where it leads; one a guest put in place of the
// directory to lead out of the outer one (to the host's /etc, or next to
// it) fails, instead of handing the guest that directory.
func TestNestedPreopenLinks(t *testing.T) {
	outer, elsewhere := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(elsewhere, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(outer, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outer, "real", "mine"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"in": "real", "out": elsewhere, "up": "../" + filepath.Base(elsewhere), "etc": "/etc"} {
		if err := os.Symlink(target, filepath.Join(outer, name)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(nil, nil, nil, []Preopen{{HostPath: outer, GuestPath: "/data"}, {HostPath: filepath.Join(outer, "in"), GuestPath: "/in"}})
	if err != nil {
		t.Fatalf("a link within the outer preopen: %v", err)
	}
	if _, errno := s.Open(OpenRequest{Dir: 4, Path: "mine", RightsBase: RightFdRead}); errno != 0 {
		t.Errorf("open /in/mine: %v", errno)
	}
	s.Close()
	// The outer one through a link to it: the same directory.
	olink := filepath.Join(t.TempDir(), "olink")
	if err := os.Symlink(outer, olink); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"out", "up", "etc"} {
		// Either order: the outer one need not come first; either may be
		// spelled through a link.
		for _, pre := range [][]Preopen{
			{{HostPath: outer, GuestPath: "/data"}, {HostPath: filepath.Join(outer, name), GuestPath: "/x"}},
			{{HostPath: filepath.Join(outer, name) + "/", GuestPath: "/x"}, {HostPath: outer + "/.", GuestPath: "/data"}},
			{{HostPath: olink, GuestPath: "/data"}, {HostPath: filepath.Join(outer, name), GuestPath: "/x"}},
			{{HostPath: outer, GuestPath: "/data"}, {HostPath: filepath.Join(olink, name), GuestPath: "/x"}},
			// A host's link into the outer one, to where the guest's link is.
			{{HostPath: outer, GuestPath: "/data"}, {HostPath: hostLink(t, filepath.Join(outer, name)), GuestPath: "/x"}},
			// Up again after the guest's link: the kernel takes the link first.
			{{HostPath: outer, GuestPath: "/data"}, {HostPath: filepath.Join(outer, name, "..") + "/..", GuestPath: "/x"}},
		} {
			s, err := New(nil, nil, nil, pre)
			if err == nil {
				s.Close()
				t.Errorf("%s (a link out of the outer preopen): opened, want an error", name)
			} else if !strings.Contains(err.Error(), "another of the guest's directories") {
				t.Errorf("%s: %v, want it to say why", name, err)
			}
		}
	}
	// A descriptor passed through /proc/self/fd (an exec process's share
	// of its container's tmpfs) is never within a preopen of /proc or /.
	d, err := os.Open(elsewhere)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	s, err = New(nil, nil, nil, []Preopen{{HostPath: "/proc", GuestPath: "/proc"}, {HostPath: "/", GuestPath: "/host"}, {HostPath: fmt.Sprintf("/proc/self/fd/%d", d.Fd()), GuestPath: "/tmp"}})
	if err != nil {
		t.Fatalf("a descriptor's directory with /proc and / preopened: %v", err)
	}
	s.Close()
}

// TestStdioRights: a file given as stdio is a stream to the guest: read
// and written, never truncated or given new times (the invoker's log,
// opened for appending, keeps its contents); a directory given as stdin
// is no way to the files in it.
func TestStdioRights(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	if err := os.WriteFile(log, []byte("kept\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	in, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	s, err := New(in, out, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if errno := s.SetSize(1, 0); errno != ENOTCAPABLE {
		t.Errorf("truncate stdout: %v, want ENOTCAPABLE", errno)
	}
	if errno := s.SetTimes(1, 1, 1, FstflagAtim|FstflagMtim); errno != ENOTCAPABLE {
		t.Errorf("set stdout's times: %v, want ENOTCAPABLE", errno)
	}
	if _, errno := s.Write(1, [][]byte{[]byte("more\n")}); errno != 0 {
		t.Errorf("write stdout: %v", errno)
	}
	if _, errno := s.Open(OpenRequest{Dir: 0, Path: "secret", RightsBase: RightFdRead}); errno != ENOTCAPABLE {
		t.Errorf("open a file of the directory given as stdin: %v, want ENOTCAPABLE", errno)
	}
	if b, _ := os.ReadFile(log); string(b) != "kept\nmore\n" {
		t.Errorf("the log: %q", b)
	}
}

// TestReaddirBounded: the snapshots a guest's open directories keep are
// bounded together: a guest that opens a large directory again and again,
// reading an entry from each, gets ENOMEM once they would pass the bound,
// not the host's memory; closing one makes room, and reading from the
// start again replaces its snapshot without counting it twice.
func TestReaddirBounded(t *testing.T) {
	dir := t.TempDir()
	name := strings.Repeat("n", 200)
	for i := range 2000 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s%05d", name, i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(nil, nil, nil, []Preopen{{HostPath: dir, GuestPath: "/d"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	per := int64(2002 * (direntCost + len(name) + 5)) // about, with . and ..
	var fds []int32
	for range maxDirSnapshots/per + 10 {
		fd, errno := s.Open(OpenRequest{Dir: 3, Path: ".", Oflags: OflagDirectory, RightsBase: RightFdReaddir})
		if errno != 0 {
			t.Fatal(errno)
		}
		if _, errno := s.Readdir(fd, 0); errno == ENOMEM {
			s.CloseFD(fd)
			break
		} else if errno != 0 {
			t.Fatal(errno)
		}
		fds = append(fds, fd)
	}
	if int64(len(fds)) > maxDirSnapshots/per+1 || s.dirBytes > maxDirSnapshots {
		t.Fatalf("%d snapshots held (%d bytes), past the bound of %d bytes", len(fds), s.dirBytes, maxDirSnapshots)
	}
	if int64(len(fds)) < maxDirSnapshots/per-1 {
		t.Fatalf("only %d snapshots before ENOMEM", len(fds))
	}
	held := s.dirBytes
	if _, errno := s.Readdir(fds[0], 0); errno != 0 || s.dirBytes != held {
		t.Errorf("reading from the start again: %v, %d bytes held, was %d", errno, s.dirBytes, held)
	}
	s.CloseFD(fds[0])
	fd, _ := s.Open(OpenRequest{Dir: 3, Path: ".", Oflags: OflagDirectory, RightsBase: RightFdReaddir})
	if _, errno := s.Readdir(fd, 0); errno != 0 {
		t.Errorf("a snapshot after one was closed: %v", errno)
	}
}

// hostLink makes a link to target elsewhere, as a host's convenience link.
func hostLink(t *testing.T, target string) string {
	l := filepath.Join(t.TempDir(), "hostlink")
	if err := os.Symlink(target, l); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestPreopenOpened: Preopen.Opened sees the directory as opened (its
// descriptor, not its path), and its error fails New with no descriptor
// left open.
func TestPreopenOpened(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	want, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	judge := func(fd int) error {
		fi, err := os.Stat(fmt.Sprintf("/proc/self/fd/%d", fd))
		if err != nil {
			return err
		}
		if os.SameFile(fi, want) {
			seen = append(seen, "dir")
			return errors.New("refused")
		}
		seen = append(seen, "other")
		return nil
	}
	before := openFDs(t)
	_, err = New(nil, nil, nil, []Preopen{{HostPath: other, GuestPath: "/o", Opened: judge}, {HostPath: dir, GuestPath: "/d", Opened: judge}})
	if err == nil || err.Error() != "refused" {
		t.Fatalf("New: %v, want the judge's error", err)
	}
	if strings.Join(seen, ",") != "other,dir" {
		t.Errorf("judged %v, want other then dir", seen)
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d descriptors open after the refusal, %d before", after, before)
	}
}

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
