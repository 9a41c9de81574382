package sys

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The emulations macOS uses (hostemul_unix.go), checked on Linux against
// what the real calls do here.

func TestSockDomainByName(t *testing.T) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pair[0])
	defer unix.Close(pair[1])
	fds := []int{pair[0]}
	for _, d := range []int{unix.AF_INET, unix.AF_INET6} {
		fd, err := unix.Socket(d, unix.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		fds = append(fds, fd)
	}
	for _, fd := range fds {
		want, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := sockDomainByName(fd); got != want || err != nil {
			t.Errorf("sockDomainByName = %d, %v; SO_DOMAIN says %d", got, err, want)
		}
	}
}

func TestFallocateByTruncate(t *testing.T) {
	f := tempFile(t, "0123456789")
	for _, c := range []struct{ off, length, size int64 }{{0, 5, 10}, {8, 10, 18}, {0, 4, 18}} {
		if err := fallocateByTruncate(int(f.Fd()), c.off, c.length); err != nil {
			t.Fatal(err)
		}
		if st, _ := f.Stat(); st.Size() != c.size {
			t.Errorf("after [%d, +%d): size %d, want %d", c.off, c.length, st.Size(), c.size)
		}
	}
	b, _ := os.ReadFile(f.Name())
	if string(b[:10]) != "0123456789" {
		t.Errorf("content changed: %q", b)
	}
}

func TestFutimesOf(t *testing.T) {
	f := tempFile(t, "x")
	fd := int(f.Fd())
	var before unix.Stat_t
	unix.Fstat(fd, &before)
	atim := unix.NsecToTimespec(int64(time.Second + 500*time.Microsecond + 7)) // the 7 ns are lost
	if err := futimesOf(fd, []unix.Timespec{atim, {Nsec: utimeOmit}}); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	unix.Fstat(fd, &st)
	oldM := before.Mtim.Nano() - before.Mtim.Nano()%1000 // to the microsecond
	if st.Atim.Nano() != int64(time.Second+500*time.Microsecond) || st.Mtim.Nano() != oldM {
		t.Errorf("atime %v mtime %v, want 1.0005s and the old %v to the microsecond", st.Atim, st.Mtim, before.Mtim)
	}
	if err := futimesOf(fd, []unix.Timespec{{Nsec: utimeOmit}, {Nsec: utimeNow}}); err != nil {
		t.Fatal(err)
	}
	unix.Fstat(fd, &st)
	if d := time.Since(time.Unix(0, st.Mtim.Nano())); d < 0 || d > time.Minute || st.Atim.Nano() != int64(time.Second+500*time.Microsecond) {
		t.Errorf("after now/omit: atime %v mtime %v", st.Atim, st.Mtim)
	}
}

func TestPwritevAppend(t *testing.T) {
	f := tempFile(t, "abc")
	fd := int(f.Fd())
	for _, c := range []struct {
		data  string
		off   int64
		flags int
		want  string
	}{
		{"xy", 0, appendFlag, "abcxy"}, // appends whatever the offset
		{"Z", 1, 0, "aZcxy"},           // at the offset
		{"Q", -1, 0, "aZcxyQ"},         // at the position (the end, after the append)
	} {
		if n, err := pwritevAppend(fd, [][]byte{[]byte(c.data)}, c.off, c.flags); n != len(c.data) || err != nil {
			t.Fatalf("write %q: %d, %v", c.data, n, err)
		}
		if b, _ := os.ReadFile(f.Name()); string(b) != c.want {
			t.Errorf("after %q at %d: %q, want %q", c.data, c.off, b, c.want)
		}
	}
}

func tempFile(t *testing.T, content string) *os.File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestPollRounded: a timeout under a millisecond still waits for it all
// (rounded up, never down to a busy 0), and no timeout waits for a ready
// descriptor: the wake pipe, once written.
func TestPollRounded(t *testing.T) {
	for _, d := range []time.Duration{300 * time.Microsecond, 1500 * time.Microsecond} {
		ts := unix.NsecToTimespec(int64(d))
		start := time.Now()
		if n, err := pollRounded(nil, &ts); n != 0 || err != nil {
			t.Fatalf("poll of nothing for %v = %d, %v", d, n, err)
		}
		if took := time.Since(start); took < d {
			t.Errorf("a wait of %v ended after %v", d, took)
		}
	}
	r, w, err := wakePipe()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(r)
	defer unix.Close(w)
	set := []unix.PollFd{{Fd: int32(r), Events: unix.POLLIN}}
	zero := unix.Timespec{}
	if n, _ := pollRounded(set, &zero); n != 0 {
		t.Fatalf("an empty wake pipe is ready")
	}
	go func() { time.Sleep(10 * time.Millisecond); unix.Write(w, []byte{1}) }()
	if n, err := pollRounded(set, nil); n != 1 || set[0].Revents&unix.POLLIN == 0 || err != nil {
		t.Fatalf("wait for the wake pipe = %d, %v (revents %#x)", n, err, set[0].Revents)
	}
	drain(r)
	if _, err := unix.Read(r, make([]byte, 1)); err != unix.EAGAIN {
		t.Errorf("read of a drained wake pipe = %v, want EAGAIN (non-blocking)", err)
	}
}
