package sys

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// The walk that replaces openat2 on macOS (walk_unix.go) is tested here
// against openat2 itself: for every path and open mode, both must refuse
// or both must open the same file.
func TestWalkMatchesOpenat2(t *testing.T) {
	root := t.TempDir()
	in := filepath.Join(root, "in")
	must(t, os.MkdirAll(filepath.Join(in, "a", "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(in, "a", "b"), []byte("b"), 0o644))
	must(t, os.WriteFile(filepath.Join(in, "c"), []byte("c"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "secret"), []byte("secret"), 0o644))
	for link, target := range map[string]string{
		"a/up":      "../..",
		"a/upfile":  "../../secret",
		"a/in":      "../c",
		"a/abs":     "/etc",
		"a/absfile": "/etc/passwd",
		"a/self":    ".",
		"loop1":     "loop2",
		"loop2":     "loop1",
		"dlink":     "a",
		"dangling":  "nothere",
		"chain":     "dlink/in",
		"deep":      "a/sub/../../a/b",
		"a/slashf":  "../c/",
		"a/slashd":  "sub/",
	} {
		must(t, os.Symlink(target, filepath.Join(in, link)))
	}
	dirfd, err := unix.Open(in, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	must(t, err)
	defer unix.Close(dirfd)

	paths := []string{
		"", ".", "./", "..", "../in", "/", "/etc", "a", "a/", "a/b", "a/b/", "a//b", "a/./b",
		"a/../c", "a/../../c", "a/sub/../b", "a/sub/../../c", "a/sub/../../..",
		"a/up", "a/up/", "a/up/secret", "a/upfile", "a/in", "a/abs", "a/abs/passwd", "a/absfile",
		"a/self", "a/self/b", "a/self/self/self/b", "loop1", "loop1/x", "dlink", "dlink/",
		"dlink/b", "dlink/../c", "dlink/up/in/c", "dangling", "dangling/", "chain", "deep",
		"c/", "c/x", "a/slashf", "a/slashd", "a/slashd/", "a/slashd/..", "nothere", "nothere/x", "a/sub/..", "a/..", "a/../..",
	}
	modes := map[string]int{
		"read":      unix.O_RDONLY,
		"nofollow":  unix.O_RDONLY | unix.O_NOFOLLOW,
		"directory": unix.O_RDONLY | unix.O_DIRECTORY,
		"path":      unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW,
	}
	for name, flags := range modes {
		for _, p := range paths {
			want, wantErrno := resolveBeneath(dirfd, p, flags, 0)
			got, gotErrno := walkBeneath(dirfd, p, flags, 0)
			if gotErrno != wantErrno {
				t.Errorf("%s %q: walk %v, openat2 %v", name, p, gotErrno, wantErrno)
			}
			if want >= 0 && got >= 0 {
				var ws, gs unix.Stat_t
				must(t, unix.Fstat(want, &ws))
				must(t, unix.Fstat(got, &gs))
				if ws.Ino != gs.Ino || ws.Dev != gs.Dev {
					t.Errorf("%s %q: walk and openat2 opened different files", name, p)
				}
			}
			for _, fd := range []int{want, got} {
				if fd >= 0 {
					unix.Close(fd)
				}
			}
		}
	}
}

// TestWalkCreate: creating through the walk stays beneath the directory,
// a dangling symlink inside included, and O_EXCL never follows.
func TestWalkCreate(t *testing.T) {
	root := t.TempDir()
	in := filepath.Join(root, "in")
	must(t, os.Mkdir(in, 0o755))
	must(t, os.Symlink("new", filepath.Join(in, "tonew")))
	must(t, os.Symlink("../escaped", filepath.Join(in, "out")))
	dirfd, err := unix.Open(in, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	must(t, err)
	defer unix.Close(dirfd)
	create := unix.O_WRONLY | unix.O_CREAT
	if fd, errno := walkBeneath(dirfd, "tonew", create, 0o644); errno != 0 {
		t.Errorf("create through an inside symlink = %v", errno)
	} else {
		unix.Close(fd)
	}
	if _, err := os.Stat(filepath.Join(in, "new")); err != nil {
		t.Errorf("the symlink's target was not created: %v", err)
	}
	if _, errno := walkBeneath(dirfd, "out", create, 0o644); errno != ENOTCAPABLE {
		t.Errorf("create through an escaping symlink = %v, want ENOTCAPABLE", errno)
	}
	if _, errno := walkBeneath(dirfd, "tonew", create|unix.O_EXCL, 0o644); errno != EEXIST {
		t.Errorf("O_EXCL on a symlink = %v, want EEXIST", errno)
	}
	if _, err := os.Stat(filepath.Join(root, "escaped")); err == nil {
		t.Error("a file was created outside the directory")
	}
}

// TestWalkSymlinkRace: a directory on the path swapped for a symlink to the
// outside while the walk runs is never followed out.
func TestWalkSymlinkRace(t *testing.T) {
	root := t.TempDir()
	in, outside := filepath.Join(root, "in"), filepath.Join(root, "outside")
	d := filepath.Join(in, "d")
	must(t, os.MkdirAll(d, 0o755))
	must(t, os.MkdirAll(outside, 0o755))
	must(t, os.WriteFile(filepath.Join(d, "secret"), []byte("inside"), 0o644))
	must(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644))
	real, link := filepath.Join(in, "d.real"), filepath.Join(in, "d.link")
	must(t, os.Symlink(outside, link))
	dirfd, err := unix.Open(in, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	must(t, err)
	defer unix.Close(dirfd)

	defer flipToSymlink(d, real, link)()
	buf := make([]byte, 16)
	for i := 0; i < 3000; i++ {
		fd, errno := walkBeneath(dirfd, "d/secret", unix.O_RDONLY, 0)
		if errno != 0 {
			continue // refused or not there at that instant: both fine
		}
		n, _ := unix.Read(fd, buf)
		unix.Close(fd)
		if string(buf[:n]) != "inside" {
			t.Fatalf("iteration %d: read %q through the walk", i, buf[:n])
		}
	}
}

// flipToSymlink swaps directory d with the symlink at link and back, over
// and over (real is where d waits meanwhile), until the returned func is
// called; then d is the directory again.
func flipToSymlink(d, real, link string) (stop func()) {
	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !done.Load() {
			os.Rename(d, real)
			os.Rename(link, d)
			os.Rename(d, link)
			os.Rename(real, d)
		}
	}()
	return func() { done.Store(true); wg.Wait() }
}
