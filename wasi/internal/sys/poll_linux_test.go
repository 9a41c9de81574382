package sys

import (
	"context"
	"math"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/wasi/internal/waittest"
)

func monoNow(t *testing.T) int64 {
	t.Helper()
	now, errno := Now(unix.CLOCK_MONOTONIC)
	if errno != 0 {
		t.Fatalf("clock_gettime: %v", errno)
	}
	return now
}

func realNow(t *testing.T) int64 {
	t.Helper()
	now, errno := Now(unix.CLOCK_REALTIME)
	if errno != 0 {
		t.Fatalf("clock_gettime: %v", errno)
	}
	return now
}

func testPipe(t *testing.T) (r, w int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatalf("pipe: %v", err)
	}
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	return p[0], p[1]
}

func newTestPoller(t *testing.T) *Poller {
	p := NewPoller()
	t.Cleanup(func() { p.Close() })
	return p
}

func TestAddSaturated(t *testing.T) {
	for _, tc := range []struct {
		t    int64
		d    uint64
		want int64
	}{
		{10, 5, 15},
		{10, math.MaxUint64, math.MaxInt64},
		{math.MaxInt64 - 1, 1, math.MaxInt64},
		{math.MaxInt64 - 1, 2, math.MaxInt64},
		{-5, math.MaxUint64, math.MaxInt64 - 5},
	} {
		if got := AddSaturated(tc.t, tc.d); got != tc.want {
			t.Errorf("AddSaturated(%d, %d) = %d, want %d", tc.t, tc.d, got, tc.want)
		}
	}
}

func TestWaitMonotonicDeadline(t *testing.T) {
	p := newTestPoller(t)
	deadline := monoNow(t) + int64(50*time.Millisecond)
	n, errno := p.Wait(context.Background(), nil, []Timer{{unix.CLOCK_MONOTONIC, deadline}})
	if n != 0 || errno != 0 {
		t.Fatalf("Wait = %d, %v; want 0, ESUCCESS", n, errno)
	}
	if now := monoNow(t); now < deadline {
		t.Fatalf("Wait returned %v before the deadline", time.Duration(deadline-now))
	}
}

func TestWaitRealtimeDeadline(t *testing.T) {
	p := newTestPoller(t)
	start := monoNow(t)
	deadline := realNow(t) + int64(50*time.Millisecond)
	// A later monotonic timer must not be the one that ends the wait.
	timers := []Timer{{unix.CLOCK_REALTIME, deadline}, {unix.CLOCK_MONOTONIC, start + int64(10*time.Second)}}
	n, errno := p.Wait(context.Background(), nil, timers)
	if n != 0 || errno != 0 {
		t.Fatalf("Wait = %d, %v; want 0, ESUCCESS", n, errno)
	}
	if now := realNow(t); now < deadline {
		t.Fatalf("Wait returned %v before the realtime deadline", time.Duration(deadline-now))
	}
	if el := time.Duration(monoNow(t) - start); el > 5*time.Second {
		t.Fatalf("Wait took %v, the realtime timer did not fire", el)
	}
}

func TestWaitExpiredTimersDoNotBlock(t *testing.T) {
	p := newTestPoller(t)
	r, _ := testPipe(t)
	for _, timers := range [][]Timer{
		{{unix.CLOCK_MONOTONIC, 0}},
		{{unix.CLOCK_REALTIME, realNow(t) - 1}},
		{{unix.CLOCK_MONOTONIC, math.MaxInt64}, {unix.CLOCK_REALTIME, 1}},
	} {
		fds := []unix.PollFd{{Fd: int32(r), Events: unix.POLLIN}}
		start := monoNow(t)
		n, errno := p.Wait(context.Background(), fds, timers)
		if n != 0 || errno != 0 || fds[0].Revents != 0 {
			t.Fatalf("Wait(%v) = %d, %v, revents %#x; want 0, ESUCCESS, 0", timers, n, errno, fds[0].Revents)
		}
		if el := time.Duration(monoNow(t) - start); el > time.Second {
			t.Fatalf("Wait(%v) blocked for %v", timers, el)
		}
	}
}

func TestWaitBadClock(t *testing.T) {
	p := newTestPoller(t)
	if _, errno := p.Wait(context.Background(), nil, []Timer{{unix.CLOCK_PROCESS_CPUTIME_ID, 0}}); errno != EINVAL {
		t.Fatalf("Wait on a CPU clock = %v, want EINVAL", errno)
	}
}

// TestWaitWakesOnWrite checks that a reader is woken by a write: after it,
// and long before its timer.
func TestWaitWakesOnWrite(t *testing.T) {
	p := newTestPoller(t)
	r, w := testPipe(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := unix.Gettid()
	var wrote atomic.Int64
	go func() {
		waitInPpoll(t, tid)
		wrote.Store(monoNow(t))
		unix.Write(w, []byte("hi"))
	}()
	fds := []unix.PollFd{{Fd: int32(r), Events: unix.POLLIN}}
	timeout := monoNow(t) + int64(20*time.Second)
	n, errno := p.Wait(context.Background(), fds, []Timer{{unix.CLOCK_MONOTONIC, timeout}})
	done := monoNow(t)
	if n != 1 || errno != 0 || fds[0].Revents != unix.POLLIN {
		t.Fatalf("Wait = %d, %v, revents %#x; want 1, ESUCCESS, POLLIN", n, errno, fds[0].Revents)
	}
	if w := wrote.Load(); w == 0 || w > done {
		t.Fatalf("Wait returned before the write")
	}
	if done >= timeout {
		t.Fatalf("Wait returned at its timeout, not on the write")
	}
	f := &File{Fd: r, Type: FiletypeUnknown}
	nb, hup, perr := f.PollResult(false, fds[0].Revents)
	if nb != 2 || hup || perr != 0 {
		t.Fatalf("PollResult = %d, %v, %v; want 2, false, ESUCCESS", nb, hup, perr)
	}
}

func TestWaitHangupAndBrokenPipe(t *testing.T) {
	p := newTestPoller(t)
	r, w := testPipe(t)
	unix.Write(w, []byte("abc"))
	unix.Close(w)
	fds := []unix.PollFd{{Fd: int32(r), Events: unix.POLLIN}}
	n, errno := p.Wait(context.Background(), fds, nil)
	if n != 1 || errno != 0 || fds[0].Revents&unix.POLLHUP == 0 {
		t.Fatalf("Wait = %d, %v, revents %#x; want POLLHUP", n, errno, fds[0].Revents)
	}
	nb, hup, perr := (&File{Fd: r}).PollResult(false, fds[0].Revents)
	if nb != 3 || !hup || perr != 0 {
		t.Fatalf("PollResult = %d, %v, %v; want 3, true, ESUCCESS", nb, hup, perr)
	}

	r2, w2 := testPipe(t)
	unix.Close(r2)
	fds = []unix.PollFd{{Fd: int32(w2), Events: unix.POLLOUT}}
	if n, errno := p.Wait(context.Background(), fds, nil); n != 1 || errno != 0 {
		t.Fatalf("Wait on a pipe without reader = %d, %v", n, errno)
	}
	if _, _, perr := (&File{Fd: w2}).PollResult(true, fds[0].Revents); perr != EPIPE {
		t.Fatalf("PollResult for a pipe without reader = %v (revents %#x), want EPIPE", perr, fds[0].Revents)
	}
}

func TestWaitCancel(t *testing.T) {
	p := newTestPoller(t)
	r, _ := testPipe(t)
	ctx, cancel := context.WithCancel(context.Background())
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := unix.Gettid()
	var cancelled atomic.Int64
	go func() {
		waitInPpoll(t, tid)
		cancelled.Store(monoNow(t))
		cancel()
	}()
	fds := []unix.PollFd{{Fd: int32(r), Events: unix.POLLIN}}
	if _, errno := p.Wait(ctx, fds, nil); errno != ECANCELED {
		t.Fatalf("Wait = %v, want ECANCELED", errno)
	}
	if cancelled.Load() == 0 {
		t.Fatal("Wait returned before the cancellation")
	}
	// Already done: no wait at all.
	if _, errno := p.Wait(ctx, fds, nil); errno != ECANCELED {
		t.Fatalf("Wait with a done context = %v, want ECANCELED", errno)
	}
	// The Poller still works for another context.
	n, errno := p.Wait(context.Background(), fds, []Timer{{unix.CLOCK_MONOTONIC, 0}})
	if n != 0 || errno != 0 {
		t.Fatalf("Wait after a cancellation = %d, %v", n, errno)
	}
}

// TestWaitCancelEachContext: a Poller keeps the first context's
// cancellation armed between waits; a wait with another context while that
// one lives, and one with a context that follows it once it is done, must
// each still end when their own context is cancelled.
func TestWaitCancelEachContext(t *testing.T) {
	p := newTestPoller(t)
	r, _ := testPipe(t)
	fds := []unix.PollFd{{Fd: int32(r), Events: unix.POLLIN}}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := unix.Gettid()
	// waitCancelled waits with ctx and cancels it once the wait is in ppoll.
	waitCancelled := func(name string, ctx context.Context, cancel func()) {
		t.Helper()
		go func() {
			waitInPpoll(t, tid)
			cancel()
		}()
		if _, errno := p.Wait(ctx, fds, nil); errno != ECANCELED {
			t.Fatalf("%s: Wait = %v, want ECANCELED", name, errno)
		}
	}
	first, cancelFirst := context.WithCancel(context.Background())
	defer cancelFirst()
	// The first context is armed for good, and an expired wait with it
	// does not block.
	if n, errno := p.Wait(first, fds, []Timer{{unix.CLOCK_MONOTONIC, 0}}); n != 0 || errno != 0 {
		t.Fatalf("Wait = %d, %v", n, errno)
	}
	other, cancelOther := context.WithCancel(context.Background())
	waitCancelled("another context", other, cancelOther)
	waitCancelled("the first context", first, cancelFirst)
	next, cancelNext := context.WithCancel(context.Background())
	waitCancelled("a context after the first is done", next, cancelNext)
	last, cancelLast := context.WithCancel(context.Background())
	waitCancelled("a context after that", last, cancelLast)
}

// TestWaitSurvivesSignals interrupts the waiting thread with signals: ppoll
// fails with EINTR each time, and Wait must keep waiting for the rest.
func TestWaitSurvivesSignals(t *testing.T) {
	p := newTestPoller(t)
	tid := make(chan int)
	type result struct {
		n     int
		errno Errno
	}
	res := make(chan result)
	deadline := monoNow(t) + int64(300*time.Millisecond)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tid <- unix.Gettid()
		n, errno := p.Wait(context.Background(), nil, []Timer{{unix.CLOCK_MONOTONIC, deadline}})
		res <- result{n, errno}
	}()
	id := <-tid
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case r := <-res:
			if r.n != 0 || r.errno != 0 {
				t.Fatalf("Wait = %d, %v", r.n, r.errno)
			}
			if now := monoNow(t); now < deadline {
				t.Fatalf("Wait returned %v early", time.Duration(deadline-now))
			}
			return
		case <-tick.C:
			// SIGURG is Go's preemption signal: harmless, and it interrupts ppoll.
			unix.Tgkill(unix.Getpid(), id, unix.SIGURG)
		}
	}
}

func TestReadableRegularFile(t *testing.T) {
	fd, err := unix.Open(t.TempDir()+"/f", unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	unix.Write(fd, []byte("0123456789"))
	unix.Seek(fd, 4, unix.SEEK_SET)
	f := &File{Fd: fd, Type: FiletypeRegularFile}
	if !f.AlwaysReady() {
		t.Fatal("regular file is not AlwaysReady")
	}
	if got := f.Readable(); got != 6 {
		t.Fatalf("Readable = %d, want 6", got)
	}
	unix.Seek(fd, 20, unix.SEEK_SET)
	if got := f.Readable(); got != 0 {
		t.Fatalf("Readable past the end = %d, want 0", got)
	}
}

// TestWaitFarRealtimeDeadline arms the timerfd with the largest deadline; a
// nearer monotonic one ends the wait.
func TestWaitFarRealtimeDeadline(t *testing.T) {
	p := newTestPoller(t)
	deadline := monoNow(t) + int64(20*time.Millisecond)
	timers := []Timer{{unix.CLOCK_REALTIME, math.MaxInt64}, {unix.CLOCK_MONOTONIC, deadline}}
	if n, errno := p.Wait(context.Background(), nil, timers); n != 0 || errno != 0 {
		t.Fatalf("Wait = %d, %v; want 0, ESUCCESS", n, errno)
	}
	if now := monoNow(t); now < deadline {
		t.Fatalf("Wait returned %v early", time.Duration(deadline-now))
	}
}

// waitInPpoll returns once thread tid is blocked in ppoll(2).
func waitInPpoll(t testing.TB, tid int) { waittest.InPpoll(t, tid) }
