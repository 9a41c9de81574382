package sys

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The races of Unix socket paths: a symlink to outside the preopen swapped
// in for the socket's name, or for a directory on its path, while bind,
// connect or sendto runs. With openat2 (Linux) and with macOS's walk and
// "/.nofollow/.vol" names (darwinemul) none may ever reach outside.

// countAccepts accepts on l until closed, counting the connections.
func countAccepts(l net.Listener) *atomic.Int32 {
	var n atomic.Int32
	go func() {
		for c, err := l.Accept(); err == nil; c, err = l.Accept() {
			n.Add(1)
			c.Close()
		}
	}()
	return &n
}

func listenUnix(t *testing.T, path string) net.Listener {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// raceCalls makes call n times, then stops the flipping: it counts the
// calls that succeeded and those refused with one of refusals; any other
// errno fails the test.
func raceCalls(t *testing.T, stop func(), n int, call func() Errno, refusals ...Errno) (succeeded, refused int) {
	t.Helper()
	defer stop()
	for i := 0; i < n; i++ {
		switch errno := call(); {
		case errno == ESUCCESS:
			succeeded++
		case slices.Contains(refusals, errno):
			refused++
		default:
			t.Errorf("call %d: errno %v", i, errno)
		}
	}
	return succeeded, refused
}

// sockCall opens a Unix socket of type st, calls fn on it and closes it.
func sockCall(t *testing.T, s *System, st SockType, fn func(fd int32) Errno) Errno {
	fd, errno := s.SockOpen(AFUnix, st)
	if errno != 0 {
		t.Fatal(errno)
	}
	defer s.CloseFD(fd)
	return fn(fd)
}

// TestUnixConnectRace connects by guest path while the socket's name, or
// the directory holding it, flips between the real thing and a symlink to a
// listener outside the preopen: the outside listener never gets a
// connection.
func TestUnixConnectRace(t *testing.T) {
	s, in, outside := newTestSystem(t)
	out := countAccepts(listenUnix(t, filepath.Join(outside, "s.sock")))
	must(t, os.Mkdir(filepath.Join(in, "d"), 0o755))
	inDir := countAccepts(listenUnix(t, filepath.Join(in, "d", "s.sock")))
	inName := countAccepts(listenUnix(t, filepath.Join(in, "s.sock")))
	must(t, os.Symlink(outside, filepath.Join(in, "d.link")))
	must(t, os.Symlink(filepath.Join(outside, "s.sock"), filepath.Join(in, "s.link")))

	for _, tc := range []struct {
		what, path string
		flip, base string // flipped with base.real and base.link
		in         *atomic.Int32
	}{
		{"directory", "/d/s.sock", "d", "d", inDir},
		{"last component", "/s.sock", "s.sock", "s", inName},
	} {
		t.Run(tc.what, func(t *testing.T) {
			base := filepath.Join(in, tc.base)
			stop := flipToSymlink(filepath.Join(in, tc.flip), base+".real", base+".link")
			connected, refused := raceCalls(t, stop, 2000, func() Errno {
				return sockCall(t, s, SockStream, func(fd int32) Errno {
					return s.SockConnect(fd, Addr{Family: AFUnix, Path: tc.path})
				})
			}, ENOTCAPABLE, ENOENT, ENOTDIR, ELOOP, ECONNREFUSED)
			deadline := time.Now().Add(2 * time.Second)
			for tc.in.Load() < int32(connected) && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			t.Logf("connected %d (accepted inside %d), refused %d", connected, tc.in.Load(), refused)
			if n := out.Load(); n != 0 {
				t.Fatalf("the listener outside the preopen accepted %d connections", n)
			}
			if connected == 0 {
				t.Errorf("no connect succeeded")
			}
		})
	}
}

// TestUnixSendtoRace sends datagrams by guest path while the name flips
// to a symlink to a datagram socket outside: nothing arrives there.
func TestUnixSendtoRace(t *testing.T) {
	s, in, outside := newTestSystem(t)
	// Both receivers are drained, so that a blocking sendto never waits.
	receive := func(path string) *atomic.Int32 {
		c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		var n atomic.Int32
		go func() {
			buf := make([]byte, 16)
			for _, _, err := c.ReadFrom(buf); err == nil; _, _, err = c.ReadFrom(buf) {
				n.Add(1)
			}
		}()
		return &n
	}
	out := receive(filepath.Join(outside, "g.sock"))
	receive(filepath.Join(in, "g.sock"))
	must(t, os.Symlink(filepath.Join(outside, "g.sock"), filepath.Join(in, "g.link")))

	stop := flipToSymlink(filepath.Join(in, "g.sock"), filepath.Join(in, "g.real"), filepath.Join(in, "g.link"))
	sent, _ := raceCalls(t, stop, 2000, func() Errno {
		return sockCall(t, s, SockDgram, func(fd int32) Errno {
			_, errno := s.SockSendTo(fd, [][]byte{[]byte("x")}, Addr{Family: AFUnix, Path: "/g.sock"}, 0)
			return errno
		})
	}, ENOENT, ELOOP, ECONNREFUSED, ENOTCAPABLE)
	t.Logf("sent %d", sent)
	time.Sleep(20 * time.Millisecond)
	if n := out.Load(); n != 0 {
		t.Fatalf("the socket outside the preopen received %d datagrams", n)
	}
}

// flipDangling flips name between nothing and a dangling symlink (kept as
// link meanwhile), removing a socket found there, until stopped.
func flipDangling(name, link string) (stop func()) {
	quit, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-quit:
				return
			default:
			}
			if st, err := os.Lstat(name); err == nil && st.Mode()&os.ModeSocket != 0 {
				os.Remove(name) // bound while it was nothing
			}
			os.Rename(link, name)
			os.Rename(name, link)
		}
	}()
	return func() { close(quit); <-finished }
}

// TestUnixBindRace binds by guest path while the name flips between nothing
// and a dangling symlink to outside, or its directory between the real one
// and a symlink to outside: no socket is ever created outside.
func TestUnixBindRace(t *testing.T) {
	s, in, outside := newTestSystem(t)
	must(t, os.Mkdir(filepath.Join(in, "d"), 0o755))
	must(t, os.Symlink(outside, filepath.Join(in, "d.link")))
	must(t, os.Symlink(filepath.Join(outside, "b.sock"), filepath.Join(in, "b.link")))

	for _, tc := range []struct {
		what, path string
		flip       func() (stop func())
	}{
		{"directory", "/d/b.sock", func() func() {
			return flipToSymlink(filepath.Join(in, "d"), filepath.Join(in, "d.real"), filepath.Join(in, "d.link"))
		}},
		{"last component", "/b.sock", func() func() {
			return flipDangling(filepath.Join(in, "b.sock"), filepath.Join(in, "b.link"))
		}},
	} {
		t.Run(tc.what, func(t *testing.T) {
			bound, refused := raceCalls(t, tc.flip(), 2000, func() Errno {
				errno := sockCall(t, s, SockStream, func(fd int32) Errno {
					return s.SockBind(fd, Addr{Family: AFUnix, Path: tc.path})
				})
				if errno == 0 && tc.path == "/d/b.sock" {
					// Wherever d is now; the name's flipper removes its own.
					os.Remove(filepath.Join(in, "d", "b.sock"))
					os.Remove(filepath.Join(in, "d.real", "b.sock"))
				}
				return errno
			}, ENOTCAPABLE, ENOENT, ENOTDIR, ELOOP, EADDRINUSE)
			t.Logf("bound %d, refused %d", bound, refused)
			entries, _ := os.ReadDir(outside)
			for _, e := range entries {
				if e.Name() != "secret" {
					t.Fatalf("a socket was created outside the preopen: %s", e.Name())
				}
			}
			if bound == 0 {
				t.Errorf("no bind succeeded")
			}
		})
	}
}

// TestUnixPathLength: the guest path fits in sun_path with its NUL (108
// bytes on Linux, 104 on macOS); a deep path with a short name fits on the
// host too, whose name is the directory's descriptor or identity.
func TestUnixPathLength(t *testing.T) {
	s, in, _ := newTestSystem(t)
	dir := strings.Repeat("a", maxUnixPath-16)
	must(t, os.Mkdir(filepath.Join(in, dir), 0o755))
	for _, tc := range []struct {
		path string
		want Errno
	}{
		{"/" + dir + "/" + strings.Repeat("s", 14), ENAMETOOLONG}, // maxUnixPath bytes
		{"/" + dir + "/s", ESUCCESS},
	} {
		errno := sockCall(t, s, SockStream, func(fd int32) Errno {
			return s.SockBind(fd, Addr{Family: AFUnix, Path: tc.path})
		})
		if errno != tc.want {
			t.Errorf("bind %d bytes = %v, want %v", len(tc.path), errno, tc.want)
		}
	}
	if st, err := os.Lstat(filepath.Join(in, dir, "s")); err != nil || st.Mode()&os.ModeSocket == 0 {
		t.Errorf("bound socket: %v", err)
	}
}

// TestUnixConnectSymlink: a symlink to a socket of the preopen is followed
// beneath it, as for files; an absolute one, even to the same socket, is
// ENOTCAPABLE, as is one leaving the preopen.
func TestUnixConnectSymlink(t *testing.T) {
	s, in, outside := newTestSystem(t)
	inside := countAccepts(listenUnix(t, filepath.Join(in, "s.sock")))
	out := countAccepts(listenUnix(t, filepath.Join(outside, "s.sock")))
	must(t, os.Symlink("s.sock", filepath.Join(in, "rel")))
	must(t, os.Symlink(filepath.Join(in, "s.sock"), filepath.Join(in, "abs")))
	must(t, os.Symlink("../outside/s.sock", filepath.Join(in, "up")))
	for _, tc := range []struct {
		path string
		want Errno
	}{
		{"/rel", ESUCCESS},
		{"/abs", ENOTCAPABLE},
		{"/up", ENOTCAPABLE},
	} {
		errno := sockCall(t, s, SockStream, func(fd int32) Errno {
			return s.SockConnect(fd, Addr{Family: AFUnix, Path: tc.path})
		})
		if errno != tc.want {
			t.Errorf("connect %s = %v, want %v", tc.path, errno, tc.want)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for inside.Load() < 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if inside.Load() != 1 || out.Load() != 0 {
		t.Errorf("accepted inside %d, outside %d; want 1 and 0", inside.Load(), out.Load())
	}
}
