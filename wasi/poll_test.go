//go:build linux || darwin

package wasi

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	wsys "github.com/tetratelabs/wazero/sys"
	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// Guest memory used by the poll_oneoff tests.
const (
	pollIn      = 0    // subscriptions
	pollOut     = 8192 // events
	pollNevents = 16384
	pollMarker  = 0xaa
)

func clockSub(userdata uint64, id uint32, timeout uint64, flags uint16) []byte {
	b := make([]byte, subscriptionLen)
	putLe64(b, userdata)
	b[8] = eventtypeClock
	putLe32(b[16:], id)
	putLe64(b[24:], timeout)
	putLe64(b[32:], 1000) // precision, ignored
	putLe16(b[40:], flags)
	return b
}

func fdSub(userdata uint64, tag byte, fd int32) []byte {
	b := make([]byte, subscriptionLen)
	putLe64(b, userdata)
	b[8] = tag
	putLe32(b[16:], uint32(fd))
	return b
}

// event is the 32 bytes poll_oneoff should write for one event.
func event(userdata uint64, errno sys.Errno, tag byte, nbytes uint64, flags uint16) []byte {
	b := make([]byte, eventLen)
	putLe64(b, userdata)
	putLe16(b[8:], uint16(errno))
	b[10] = tag
	putLe64(b[16:], nbytes)
	putLe16(b[24:], flags)
	return b
}

// poll writes subs at pollIn over marker-filled memory and calls
// poll_oneoff with out at pollOut and nevents at pollNevents.
func (h *harness) poll(subs ...[]byte) sys.Errno {
	h.t.Helper()
	h.fill(pollMarker)
	h.write(pollIn, bytes.Join(subs, nil))
	return h.call("poll_oneoff", pollIn, pollOut, uint64(len(subs)), pollNevents)
}

// expectEvents asserts that exactly events were written at pollOut, their
// count at pollNevents, and nothing after the last event.
func (h *harness) expectEvents(events ...[]byte) {
	h.t.Helper()
	if got := h.u32(pollNevents); got != uint32(len(events)) {
		h.t.Errorf("nevents = %d, want %d", got, len(events))
	}
	h.expectMem(pollNevents+4, []byte{pollMarker})
	want := append(bytes.Join(events, nil), pollMarker, pollMarker)
	h.expectMem(pollOut, want)
}

// pipeFD makes a pipe whose read end (if read) or write end is guest fd
// returned; the other end is returned as a host fd, closed at cleanup.
func (h *harness) pipeFD(read bool) (guest int32, other int) {
	h.t.Helper()
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		h.t.Fatalf("pipe: %v", err)
	}
	mine, theirs := p[0], p[1]
	if !read {
		mine, theirs = p[1], p[0]
	}
	h.t.Cleanup(func() { unix.Close(theirs) })
	fd := h.sys.FDs.Insert(&sys.File{Fd: mine, Type: sys.FiletypeUnknown, RightsBase: sys.RightsStream})
	return fd, theirs
}

func monotonic(t testing.TB) int64 {
	t.Helper()
	now, errno := sys.Now(unix.CLOCK_MONOTONIC)
	if errno != 0 {
		t.Fatal(errno)
	}
	return now
}

func TestPollOneoffClockRelative(t *testing.T) {
	h := newHarness(t, Config{})
	for _, id := range []uint32{clockMonotonic, clockRealtime} {
		start := monotonic(t)
		if errno := h.poll(clockSub(0x0102030405060708, id, uint64(50*time.Millisecond), 0)); errno != 0 {
			t.Fatalf("clock %d: errno %v", id, errno)
		}
		if el := time.Duration(monotonic(t) - start); el < 50*time.Millisecond {
			t.Errorf("clock %d: returned after %v, before the 50ms timeout", id, el)
		}
		h.expectEvents(event(0x0102030405060708, 0, eventtypeClock, 0, 0))
	}
}

func TestPollOneoffClockAbsolute(t *testing.T) {
	h := newHarness(t, Config{})
	for _, c := range []struct {
		id   uint32
		host int32
	}{{clockMonotonic, unix.CLOCK_MONOTONIC}, {clockRealtime, unix.CLOCK_REALTIME}} {
		now, _ := sys.Now(c.host)
		deadline := now + int64(50*time.Millisecond)
		if errno := h.poll(clockSub(7, c.id, uint64(deadline), subclockAbstime)); errno != 0 {
			t.Fatalf("clock %d: errno %v", c.id, errno)
		}
		if now, _ := sys.Now(c.host); now < deadline {
			t.Errorf("clock %d: returned %v before the deadline", c.id, time.Duration(deadline-now))
		}
		h.expectEvents(event(7, 0, eventtypeClock, 0, 0))

		// A deadline in the past is an immediate event.
		if errno := h.poll(clockSub(8, c.id, 1, subclockAbstime)); errno != 0 {
			t.Fatalf("clock %d in the past: errno %v", c.id, errno)
		}
		h.expectEvents(event(8, 0, eventtypeClock, 0, 0))
	}
}

// TestPollOneoffZeroTimeout: a zero timeout is a non-blocking poll, and only
// the clocks that expired are reported; u64-max timeouts do not overflow
// into the past.
func TestPollOneoffZeroTimeout(t *testing.T) {
	h := newHarness(t, Config{})
	r, _ := h.pipeFD(true)
	start := monotonic(t)
	errno := h.poll(
		clockSub(1, clockMonotonic, math.MaxUint64, 0),
		fdSub(2, eventtypeFdRead, r),
		clockSub(3, clockMonotonic, 0, 0),
		clockSub(4, clockMonotonic, math.MaxUint64, subclockAbstime),
		clockSub(5, clockRealtime, math.MaxUint64, subclockAbstime),
	)
	if errno != 0 {
		t.Fatalf("errno %v", errno)
	}
	if el := time.Duration(monotonic(t) - start); el > time.Second {
		t.Errorf("a zero timeout blocked for %v", el)
	}
	h.expectEvents(event(3, 0, eventtypeClock, 0, 0))
}

// TestPollOneoffReadWakesOnWrite: a reader blocked in poll_oneoff wakes on a
// write from another goroutine, after it and long before its clock.
func TestPollOneoffReadWakesOnWrite(t *testing.T) {
	h := newHarness(t, Config{})
	r, w := h.pipeFD(true)
	runtime.LockOSThread() // the host function runs on this thread
	defer runtime.UnlockOSThread()
	tid := gettid()
	var wrote atomic.Int64
	go func() {
		waitInPpoll(t, tid)
		wrote.Store(monotonic(t))
		unix.Write(w, []byte("hello"))
	}()
	deadline := monotonic(t) + int64(20*time.Second)
	errno := h.poll(
		clockSub(1, clockMonotonic, uint64(deadline), subclockAbstime),
		fdSub(2, eventtypeFdRead, r),
	)
	done := monotonic(t)
	if errno != 0 {
		t.Fatalf("errno %v", errno)
	}
	if w := wrote.Load(); w == 0 || w > done {
		t.Fatal("poll_oneoff returned before the write")
	}
	if done >= deadline {
		t.Fatal("poll_oneoff returned at its clock, not on the write")
	}
	h.expectEvents(event(2, 0, eventtypeFdRead, 5, 0))
}

func TestPollOneoffWriteReady(t *testing.T) {
	h := newHarness(t, Config{})
	w, _ := h.pipeFD(false)
	r, _ := h.pipeFD(true) // never ready
	if errno := h.poll(fdSub(1, eventtypeFdRead, r), fdSub(2, eventtypeFdWrite, w)); errno != 0 {
		t.Fatalf("errno %v", errno)
	}
	h.expectEvents(event(2, 0, eventtypeFdWrite, 0, 0))
}

// TestPollOneoffFdErrors: descriptors that cannot be waited on are events
// with an error, returned at once (the 20 s clock must not be waited for),
// and the other ready descriptors are reported with them.
func TestPollOneoffFdErrors(t *testing.T) {
	h := newHarness(t, Config{})
	noRight, _ := h.pipeFD(true)
	f, _ := h.sys.Lookup(noRight)
	f.RightsBase &^= sys.RightPollFdReadwrite
	w, _ := h.pipeFD(false)
	r, _ := h.pipeFD(true)
	start := monotonic(t)
	errno := h.poll(
		clockSub(1, clockMonotonic, uint64(20*time.Second), 0),
		fdSub(2, eventtypeFdRead, 99),
		fdSub(3, eventtypeFdWrite, -1),
		fdSub(4, eventtypeFdRead, noRight),
		fdSub(5, eventtypeFdRead, harnessPreopenFD),
		fdSub(6, eventtypeFdRead, r),
		fdSub(7, eventtypeFdWrite, w),
		clockSub(8, clockProcessCPUTimeID, 0, 0),
		clockSub(9, 42, 0, 0),
	)
	if errno != 0 {
		t.Fatalf("errno %v", errno)
	}
	if el := time.Duration(monotonic(t) - start); el > 5*time.Second {
		t.Errorf("poll_oneoff waited %v despite error events", el)
	}
	h.expectEvents(
		event(2, sys.EBADF, eventtypeFdRead, 0, 0),
		event(3, sys.EBADF, eventtypeFdWrite, 0, 0),
		event(4, sys.ENOTCAPABLE, eventtypeFdRead, 0, 0),
		event(5, sys.EBADF, eventtypeFdRead, 0, 0),
		event(7, 0, eventtypeFdWrite, 0, 0),
		event(8, sys.ENOTSUP, eventtypeClock, 0, 0),
		event(9, sys.EINVAL, eventtypeClock, 0, 0),
	)
}

func TestPollOneoffHangup(t *testing.T) {
	h := newHarness(t, Config{})
	r, w := h.pipeFD(true)
	unix.Write(w, []byte("xyz"))
	unix.Close(w)
	if errno := h.poll(fdSub(1, eventtypeFdRead, r), clockSub(2, clockMonotonic, uint64(20*time.Second), 0)); errno != 0 {
		t.Fatalf("errno %v", errno)
	}
	h.expectEvents(event(1, 0, eventtypeFdRead, 3, eventrwflagHangup))

	// A write end whose reader is gone reports EPIPE.
	w2, r2 := h.pipeFD(false)
	unix.Close(r2)
	if errno := h.poll(fdSub(3, eventtypeFdWrite, w2)); errno != 0 {
		t.Fatalf("errno %v", errno)
	}
	h.expectEvents(event(3, sys.EPIPE, eventtypeFdWrite, 0, 0))
}

// TestPollOneoffClockFirst: a clock that fires before the descriptor is
// ready is the only event.
func TestPollOneoffClockFirst(t *testing.T) {
	h := newHarness(t, Config{})
	r, _ := h.pipeFD(true)
	start := monotonic(t)
	errno := h.poll(
		fdSub(1, eventtypeFdRead, r),
		clockSub(2, clockMonotonic, uint64(30*time.Millisecond), 0),
		clockSub(3, clockMonotonic, uint64(20*time.Second), 0),
	)
	if errno != 0 {
		t.Fatalf("errno %v", errno)
	}
	if el := time.Duration(monotonic(t) - start); el < 30*time.Millisecond {
		t.Errorf("returned after %v, before the 30ms clock", el)
	}
	h.expectEvents(event(2, 0, eventtypeClock, 0, 0))
}

func TestPollOneoffRegularFile(t *testing.T) {
	h := newHarness(t, Config{})
	path := filepath.Join(h.dir, "f")
	if err := os.WriteFile(path, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	hostFD, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.Seek(hostFD, 3, unix.SEEK_SET)
	fd := h.sys.FDs.Insert(&sys.File{Fd: hostFD, Type: sys.FiletypeRegularFile, RightsBase: sys.RightsRegularFile})
	r, _ := h.pipeFD(true)
	if errno := h.poll(fdSub(1, eventtypeFdRead, fd), fdSub(2, eventtypeFdWrite, fd), fdSub(3, eventtypeFdRead, r)); errno != 0 {
		t.Fatalf("errno %v", errno)
	}
	h.expectEvents(event(1, 0, eventtypeFdRead, 7, 0), event(2, 0, eventtypeFdWrite, 0, 0))
}

// TestPollOneoffManySubscriptions is shaped like Go's netpoller: many fd
// subscriptions and one clock; the one ready descriptor is reported.
func TestPollOneoffManySubscriptions(t *testing.T) {
	h := newHarness(t, Config{})
	subs := [][]byte{clockSub(0, clockMonotonic, uint64(20*time.Second), 0)}
	var w int
	for i := 1; i <= 100; i++ {
		fd, other := h.pipeFD(true)
		subs = append(subs, fdSub(uint64(i), eventtypeFdRead, fd))
		if i == 77 {
			w = other
		}
	}
	unix.Write(w, []byte("!"))
	if errno := h.poll(subs...); errno != 0 {
		t.Fatalf("errno %v", errno)
	}
	h.expectEvents(event(77, 0, eventtypeFdRead, 1, 0))
}

// TestPollOneoffSameFd: more subscriptions to one descriptor than
// RLIMIT_NOFILE allows descriptors (ppoll's limit on its set) are waited on
// as one, and each gets its event; a read and a write subscription to one
// socket are told apart.
func TestPollOneoffSameFd(t *testing.T) {
	h := newHarness(t, Config{})
	r, w := h.pipeFD(true)
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(pair[1]) })
	sock := h.sys.FDs.Insert(&sys.File{Fd: pair[0], Type: sys.FiletypeSocketStream, RightsBase: sys.RightsSocket, Sock: &sys.Socket{Family: sys.AFUnix, Type: sys.SockStream}})

	// Only writable: the write subscriptions fire, not the read ones.
	if errno := h.poll(fdSub(1, eventtypeFdRead, sock), fdSub(2, eventtypeFdWrite, sock), fdSub(3, eventtypeFdRead, sock), fdSub(4, eventtypeFdWrite, sock)); errno != 0 {
		t.Fatalf("errno %v", errno)
	}
	h.expectEvents(event(2, 0, eventtypeFdWrite, 0, 0), event(4, 0, eventtypeFdWrite, 0, 0))

	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	const limit = 64
	low := unix.Rlimit{Cur: limit, Max: old.Max}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	unix.Write(w, []byte("abc"))
	var subs, events [][]byte
	for i := uint64(0); i < 2*limit; i++ {
		subs = append(subs, fdSub(i, eventtypeFdRead, r))
		events = append(events, event(i, 0, eventtypeFdRead, 3, 0))
	}
	errno := h.poll(subs...)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	if errno != 0 {
		t.Fatalf("%d subscriptions to one fd: errno %v", len(subs), errno)
	}
	h.expectEvents(events...)

	// Many descriptors, each named twice; then a call naming some of them
	// in another order finds the scratch slots clean.
	subs, events = nil, nil
	var fds []int32
	for i := uint64(0); i < 40; i++ {
		fd, other := h.pipeFD(true)
		fds = append(fds, fd)
		subs = append(subs, fdSub(2*i, eventtypeFdRead, fd), fdSub(2*i+1, eventtypeFdRead, fd))
		if i%3 == 0 {
			unix.Write(other, []byte("!"))
			events = append(events, event(2*i, 0, eventtypeFdRead, 1, 0), event(2*i+1, 0, eventtypeFdRead, 1, 0))
		}
	}
	if errno := h.poll(subs...); errno != 0 {
		t.Fatalf("errno %v", errno)
	}
	h.expectEvents(events...)
	if errno := h.poll(fdSub(1, eventtypeFdRead, fds[4]), fdSub(2, eventtypeFdRead, fds[3]), fdSub(3, eventtypeFdRead, fds[4])); errno != 0 {
		t.Fatalf("errno %v", errno)
	}
	h.expectEvents(event(2, 0, eventtypeFdRead, 1, 0))

	// Descriptors that are not open take no scratch space, however large.
	if errno := h.poll(fdSub(1, eventtypeFdRead, 1<<30), fdSub(2, eventtypeFdWrite, math.MaxInt32)); errno != 0 {
		t.Fatalf("errno %v", errno)
	}
	h.expectEvents(event(1, sys.EBADF, eventtypeFdRead, 0, 0), event(2, sys.EBADF, eventtypeFdWrite, 0, 0))
	if n := len(h.host.pollSlots); n > 100 {
		t.Errorf("%d scratch slots", n)
	}
}

func TestPollOneoffInvalid(t *testing.T) {
	h := newHarness(t, Config{})
	badTag := clockSub(1, clockMonotonic, 0, 0)
	badTag[8] = 3
	for name, subs := range map[string][][]byte{
		"unknown tag":         {badTag},
		"unknown clock flags": {clockSub(1, clockMonotonic, 0, 2)},
		"after a good one":    {clockSub(1, clockMonotonic, 0, 0), badTag},
	} {
		h.fill(pollMarker)
		h.write(pollIn, bytes.Join(subs, nil))
		before := h.read(0, h.memSize())
		if errno := h.call("poll_oneoff", pollIn, pollOut, uint64(len(subs)), pollNevents); errno != sys.EINVAL {
			t.Errorf("%s: errno %v, want EINVAL", name, errno)
		}
		if !bytes.Equal(before, h.read(0, h.memSize())) {
			t.Errorf("%s: memory was written", name)
		}
	}
}

// TestPollOneoffAfterInvalid: a call refused with EINVAL after it had
// decoded a fd subscription leaves nothing behind for the next call (the
// poll set's scratch slots once kept the refused call's entry, and a later
// call on that descriptor indexed past its own poll set).
func TestPollOneoffAfterInvalid(t *testing.T) {
	h := newHarness(t, Config{})
	r, w := h.pipeFD(true)
	badTag := clockSub(2, clockMonotonic, 0, 0)
	badTag[8] = 3
	if errno := h.poll(fdSub(1, eventtypeFdRead, r), badTag); errno != sys.EINVAL {
		t.Fatalf("errno %v, want EINVAL", errno)
	}
	if _, err := unix.Write(w, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if errno := h.poll(clockSub(3, clockMonotonic, uint64(time.Minute), 0), fdSub(4, eventtypeFdRead, r)); errno != 0 {
		t.Fatalf("errno %v", errno)
	}
	h.expectEvents(event(4, 0, eventtypeFdRead, 1, 0))
}

// TestPollOneoffBounds: nsubscriptions 0 is EINVAL and every out-of-bounds
// range is EFAULT, before any waiting and without writing anything.
func TestPollOneoffBounds(t *testing.T) {
	h := newHarness(t, Config{})
	size := uint64(h.memSize())
	for _, c := range []struct {
		name            string
		in, out, n, nev uint64
		want            sys.Errno
	}{
		{"no subscriptions", pollIn, pollOut, 0, pollNevents, sys.EINVAL},
		{"in past the end", size - subscriptionLen + 1, pollOut, 1, pollNevents, sys.EFAULT},
		{"in of n past the end", size - 2*subscriptionLen, pollOut, 3, pollNevents, sys.EFAULT},
		{"out past the end", pollIn, size - eventLen + 1, 1, pollNevents, sys.EFAULT},
		{"nevents past the end", pollIn, pollOut, 1, size - 3, sys.EFAULT},
		{"nevents at u32 max", pollIn, pollOut, 1, math.MaxUint32, sys.EFAULT},
		{"n*48 wraps to 32", pollIn, pollOut, 89478486, pollNevents, sys.EFAULT},
		{"n at u32 max", pollIn, pollOut, math.MaxUint32, pollNevents, sys.EFAULT},
	} {
		h.fill(pollMarker)
		// A clock that would block for 20 s if it were waited on.
		h.write(pollIn, clockSub(1, clockMonotonic, uint64(20*time.Second), 0))
		before := h.read(0, h.memSize())
		start := monotonic(t)
		if errno := h.call("poll_oneoff", c.in, c.out, c.n, c.nev); errno != c.want {
			t.Errorf("%s: errno %v, want %v", c.name, errno, c.want)
		}
		if el := time.Duration(monotonic(t) - start); el > 5*time.Second {
			t.Errorf("%s: waited %v", c.name, el)
		}
		if !bytes.Equal(before, h.read(0, h.memSize())) {
			t.Errorf("%s: memory was written", c.name)
		}
	}
}

// TestPollOneoffCancel: a guest blocked in poll_oneoff forever ends promptly
// when its context is cancelled, with wazero's exit error for that.
func TestPollOneoffCancel(t *testing.T) {
	h := newHarness(t, Config{})
	r, _ := h.pipeFD(true)
	h.fill(pollMarker)
	h.write(pollIn, fdSub(1, eventtypeFdRead, r))
	ctx, cancel := context.WithCancel(context.Background())
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := gettid()
	var cancelled atomic.Bool
	go func() {
		waitInPpoll(t, tid)
		cancelled.Store(true)
		cancel()
	}()
	_, err := h.guest.ExportedFunction("poll_oneoff").Call(ctx, pollIn, pollOut, 1, pollNevents)
	var exit *wsys.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != wsys.ExitCodeContextCanceled {
		t.Fatalf("err = %v, want exit code ExitCodeContextCanceled", err)
	}
	if !cancelled.Load() {
		t.Fatal("returned before the cancellation")
	}
	h.expectMem(pollOut, []byte{pollMarker})
	h.expectMem(pollNevents, []byte{pollMarker})
}

// TestPollOneoffIdleCPU: 3 s asleep on a clock, and 3 s on a never-ready
// pipe with a clock, at the same time, cost under 2% of 3 s of CPU.
func TestPollOneoffIdleCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 3 s")
	}
	const sleep = 3 * time.Second
	sleeper := newHarness(t, Config{})
	waiter := newHarness(t, Config{})
	r, _ := waiter.pipeFD(true)
	sleeper.fill(pollMarker)
	sleeper.write(pollIn, clockSub(1, clockMonotonic, uint64(sleep), 0))
	waiter.fill(pollMarker)
	waiter.write(pollIn, bytes.Join([][]byte{fdSub(2, eventtypeFdRead, r), clockSub(3, clockMonotonic, uint64(sleep), 0)}, nil))

	var before, after unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &before)
	start := monotonic(t)
	var wg sync.WaitGroup
	for _, c := range []struct {
		h *harness
		n uint64
	}{{sleeper, 1}, {waiter, 2}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errno, err := c.h.callErr("poll_oneoff", pollIn, pollOut, c.n, pollNevents); errno != 0 || err != nil {
				t.Errorf("poll_oneoff: %v, %v", errno, err)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Duration(monotonic(t) - start)
	unix.Getrusage(unix.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano()-before.Utime.Nano()) + time.Duration(after.Stime.Nano()-before.Stime.Nano())
	t.Logf("two %v waits took %v wall, %v CPU", sleep, elapsed, cpu)
	if elapsed < sleep {
		t.Fatalf("waits ended after %v, before %v", elapsed, sleep)
	}
	if limit := sleep / 50; cpu > limit {
		t.Fatalf("waiting used %v of CPU, more than %v", cpu, limit)
	}
	sleeper.expectEvents(event(1, 0, eventtypeClock, 0, 0))
	waiter.expectEvents(event(3, 0, eventtypeClock, 0, 0))
}

// TestPollOneoffTooMany: more than maxSubscriptions is EINVAL at once,
// before the host allocates for each (memory of the host's, not counted
// in the guest's limit); maxSubscriptions itself is served.
func TestPollOneoffTooMany(t *testing.T) {
	h := newHarness(t, Config{})
	n := uint64(maxSubscriptions + 1)
	need := n * (subscriptionLen + eventLen)
	if _, ok := h.mem().Grow(uint32(need/65536 + 2)); !ok {
		t.Fatal("grow the guest's memory")
	}
	in, out := uint64(65536), uint64(65536)+n*subscriptionLen
	for i := range n {
		h.write(uint32(in+i*subscriptionLen), clockSub(i, clockMonotonic, 0, 0))
	}
	if errno := h.call("poll_oneoff", in, out, n, pollNevents); errno != sys.EINVAL {
		t.Errorf("%d subscriptions: errno %v, want EINVAL", n, errno)
	}
	if errno := h.call("poll_oneoff", in, out, n-1, pollNevents); errno != 0 {
		t.Errorf("%d subscriptions: errno %v", n-1, errno)
	}
}

// TestPollOneoffClockErrorsAlone: a call whose only subscriptions are
// clocks that cannot be waited on (a CPU-time clock, an unknown id)
// returns their error events at once: there is nothing else to wait for,
// and it used to wait forever (no descriptor, no deadline). With a 20 s
// clock beside them, it does not wait for that clock either.
func TestPollOneoffClockErrorsAlone(t *testing.T) {
	for _, tc := range []struct {
		name   string
		subs   [][]byte
		events [][]byte
	}{
		{"CPU-time clock", [][]byte{clockSub(1, clockProcessCPUTimeID, 1000, 0)}, [][]byte{event(1, sys.ENOTSUP, eventtypeClock, 0, 0)}},
		{"unknown clock", [][]byte{clockSub(2, 0xffffffff, 1000, 0)}, [][]byte{event(2, sys.EINVAL, eventtypeClock, 0, 0)}},
		{"with a 20 s clock", [][]byte{clockSub(3, 7, 0, 0), clockSub(4, clockMonotonic, uint64(20*time.Second), 0)}, [][]byte{event(3, sys.EINVAL, eventtypeClock, 0, 0)}},
	} {
		h := newHarness(t, Config{})
		h.fill(pollMarker)
		h.write(pollIn, bytes.Join(tc.subs, nil))
		done := make(chan sys.Errno, 1)
		start := time.Now()
		go func() { done <- h.call("poll_oneoff", pollIn, pollOut, uint64(len(tc.subs)), pollNevents) }()
		select {
		case errno := <-done:
			if errno != 0 {
				t.Fatalf("%s: errno %v", tc.name, errno)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: poll_oneoff still waits after 10 s", tc.name)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("%s: returned after %v", tc.name, el)
		}
		h.expectEvents(tc.events...)
	}
}
