package sys

import (
	"context"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// TestWindowsPipeStdin: stdin on a pipe is waited for (the wait sleeps
// until data comes, looking at the pipe every streamTick), a guest that
// made it non-blocking gets EAGAIN while it is empty, and the writer's
// end is a hang-up and then end of file.
func TestWindowsPipeStdin(t *testing.T) {
	var r, w windows.Handle
	if err := windows.CreatePipe(&r, &w, nil, 0); err != nil {
		t.Fatal(err)
	}
	rf, wf := os.NewFile(uintptr(r), "pipe-r"), os.NewFile(uintptr(w), "pipe-w")
	defer rf.Close()
	s, err := New(rf, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f, _ := s.Lookup(0)
	if f.AlwaysReady() {
		t.Fatal("a pipe on stdin is always ready")
	}
	if errno := s.SetFlags(0, FdflagNonblock); errno != 0 {
		t.Fatal(errno.Name())
	}
	buf := make([]byte, 16)
	if _, errno := s.Read(0, [][]byte{buf}); errno != EAGAIN {
		t.Errorf("non-blocking read of an empty pipe = %s, want EAGAIN", errno.Name())
	}
	p := NewPoller()
	defer p.Close()
	time.AfterFunc(150*time.Millisecond, func() { wf.Write([]byte("data")) })
	start := time.Now()
	fds := []PollFd{f.PollFd(PollIn)}
	now, _ := Now(ClockMonotonic)
	n, errno := p.Wait(context.Background(), fds, []Timer{{Clock: ClockMonotonic, At: now + int64(5*time.Second)}})
	if d := time.Since(start); n != 1 || errno != 0 || fds[0].Revents&PollIn == 0 || d < 100*time.Millisecond || d > 3*time.Second {
		t.Errorf("wait for the pipe = %d, %s, revents %#x after %v", n, errno.Name(), fds[0].Revents, d)
	}
	if got := f.Readable(); got != 4 {
		t.Errorf("readable = %d, want 4", got)
	}
	if n, errno := s.Read(0, [][]byte{buf}); n != 4 || errno != 0 || string(buf[:4]) != "data" {
		t.Errorf("read = %d, %s, %q", n, errno.Name(), buf[:n])
	}
	// Without a context that can end (no cancellation socket), the wait
	// still sleeps between looks at the pipe.
	now, _ = Now(ClockMonotonic)
	start = time.Now()
	if n, errno := p.Wait(context.Background(), fds, []Timer{{Clock: ClockMonotonic, At: now + int64(100*time.Millisecond)}}); n != 0 || errno != 0 || time.Since(start) < 100*time.Millisecond {
		t.Errorf("wait on an empty pipe for 100 ms = %d, %s after %v", n, errno.Name(), time.Since(start))
	}
	wf.Close()
	fds[0].Revents = 0
	if n, errno := p.Wait(context.Background(), fds, nil); n != 1 || errno != 0 || fds[0].Revents&PollHup == 0 {
		t.Errorf("wait after the writer closed = %d, %s, revents %#x", n, errno.Name(), fds[0].Revents)
	}
	if n, errno := s.Read(0, [][]byte{buf}); n != 0 || errno != 0 {
		t.Errorf("read after the writer closed = %d, %s; want end of file", n, errno.Name())
	}
}
