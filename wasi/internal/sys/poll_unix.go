//go:build linux || darwin

package sys

import (
	"context"
	"math"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Waiting for descriptors and clocks, for poll_oneoff.
//
// A Poller makes exactly one blocking ppoll(2) per wait (poll(2) where
// there is no ppoll; repeated only after EINTR or a spurious wake-up, with
// the remaining time recomputed), so a guest that sleeps or waits on an idle
// descriptor costs no CPU:
//
//   - Deadlines on CLOCK_MONOTONIC become ppoll's relative timeout, computed
//     from the earliest deadline just before each ppoll.
//   - Absolute deadlines on CLOCK_REALTIME are armed on a timerfd with
//     TFD_TIMER_ABSTIME and added to the poll set, so a change of the wall
//     clock while waiting moves the wake-up with it, as it would for
//     clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME). The timerfd is made per
//     wait: guests rarely sleep until a wall-clock time (Go never does).
//     Without timerfds (macOS) the deadline becomes a monotonic one when the
//     wait starts, and a change of the wall clock while waiting is not seen.
//   - Cancellation: when ctx is done (wazero closes the module on it), an
//     eventfd (a pipe where there is none) in the poll set is signalled, so
//     the wait ends at once. It is made on first use and kept until Close.
//
// epoll_oneoff's edge-triggered waits (EdgePoller, epoll.go) go through
// Wait too, for the same deadline and cancellation handling.

// Now reads a host clock in nanoseconds.
func Now(clock int32) (int64, Errno) {
	if now, ok := fastNow(clock); ok {
		return now, ESUCCESS
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(clock, &ts); err != nil {
		return 0, ErrnoFromError(err)
	}
	return ts.Nano(), ESUCCESS
}

// Poller waits for descriptors and deadlines. One Poller serves one guest;
// Wait may be called from several goroutines at once.
type Poller struct {
	mu     sync.Mutex
	wake   int // eventfd signalled on cancellation, -1 until needed
	wakeW  int // where to write to signal wake (wake itself for an eventfd)
	closed bool
	// done is the Done channel of the context whose cancellation signals
	// wake for every wait (stopDone undoes that): a guest's calls all come
	// with one context, so a wait arms nothing of its own.
	done     <-chan struct{}
	stopDone func() bool
}

// NewPoller returns a Poller. It holds no descriptor until a Wait needs one.
func NewPoller() *Poller {
	return &Poller{wake: -1, wakeW: -1}
}

// Close releases the Poller's descriptors. Waits must have returned.
func (p *Poller) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.stopDone != nil {
		p.stopDone()
		p.stopDone, p.done = nil, nil
	}
	if p.wake >= 0 {
		err := unix.Close(p.wake)
		if p.wakeW != p.wake {
			unix.Close(p.wakeW)
		}
		p.wake, p.wakeW = -1, -1
		return err
	}
	return nil
}

// wakeFD returns the cancellation eventfd, creating it on first use.
func (p *Poller) wakeFD() (int, Errno) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return -1, EBADF
	}
	if p.wake < 0 {
		r, w, err := newWake()
		if err != nil {
			return -1, ErrnoFromError(err)
		}
		p.wake, p.wakeW = r, w
	}
	return p.wake, ESUCCESS
}

// armCancel makes ctx's cancellation signal the wake eventfd and returns
// it, with a func that undoes what was armed for this wait only. The first
// context (and the next one once it is done) stays armed until Close.
func (p *Poller) armCancel(ctx context.Context) (wake int, stop func() bool, errno Errno) {
	wake, errno = p.wakeFD()
	if errno != 0 {
		return -1, nil, errno
	}
	done := ctx.Done()
	p.mu.Lock()
	defer p.mu.Unlock()
	if done == p.done {
		return wake, nil, ESUCCESS
	}
	if p.done != nil {
		select {
		case <-p.done:
		default:
			// Another context is armed for good: this one for this wait.
			return wake, context.AfterFunc(ctx, p.signal), ESUCCESS
		}
		p.stopDone()
	}
	p.done, p.stopDone = done, context.AfterFunc(ctx, p.signal)
	return wake, nil, ESUCCESS
}

func (p *Poller) signal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.wakeW >= 0 {
		var one = [8]byte{1}
		unix.Write(p.wakeW, one[:])
	}
}

// Wait blocks until at least one of fds is ready (its Revents are set), the
// earliest of timers has expired, or ctx is done, and returns the number of
// fds with Revents set (0 when only a timer ended the wait). With no timers
// it may wait forever; a timer already expired makes Wait a non-blocking
// check of fds (one ppoll with a zero timeout, nothing else). A done ctx
// gives ECANCELED; a timer on another clock than CLOCK_MONOTONIC or
// CLOCK_REALTIME gives EINVAL. Wait may use the spare capacity of fds for
// its own descriptors: a caller that leaves room for two makes a wait
// allocate nothing.
//
// Wait never returns early because of a signal: after EINTR, it waits again
// for what remains. POSIX: ppoll.
func (p *Poller) Wait(ctx context.Context, fds []unix.PollFd, timers []Timer) (int, Errno) {
	if ctx.Err() != nil {
		return 0, ECANCELED
	}
	mono, real := int64(math.MaxInt64), int64(math.MaxInt64)
	hasMono, hasReal := false, false
	for _, t := range timers {
		switch t.Clock {
		case unix.CLOCK_MONOTONIC:
			mono, hasMono = min(mono, t.At), true
		case unix.CLOCK_REALTIME:
			real, hasReal = min(real, t.At), true
		default:
			return 0, EINVAL
		}
	}
	if hasReal {
		now, errno := Now(unix.CLOCK_REALTIME)
		if errno != 0 {
			return 0, errno
		}
		if now >= real {
			// Already expired: no timerfd, just don't block (monotonic
			// time 0 is always in the past).
			hasMono, mono, hasReal = true, 0, false
		} else if !haveTimerfd {
			// A monotonic deadline as far away as the wall-clock one.
			monoNow, errno := Now(unix.CLOCK_MONOTONIC)
			if errno != 0 {
				return 0, errno
			}
			hasMono, mono, hasReal = true, min(mono, AddSaturated(monoNow, uint64(real-now))), false
		}
	}
	// monoNow is the monotonic clock when last read (-1: not yet); a
	// deadline at or before 0 is in the past without reading it.
	monoNow := int64(-1)
	if hasMono && mono > 0 {
		var errno Errno
		if monoNow, errno = Now(unix.CLOCK_MONOTONIC); errno != 0 {
			return 0, errno
		}
	}
	block := !hasMono || mono > monoNow

	// The poll set: the guest's fds, then, for a wait that may block, the
	// eventfd and the timerfd if any.
	set := fds[:len(fds):cap(fds)]
	wakeIdx, timerIdx := -1, -1
	if block && ctx.Done() != nil {
		wake, stop, errno := p.armCancel(ctx)
		if errno != 0 {
			return 0, errno
		}
		if stop != nil {
			defer stop()
		}
		wakeIdx = len(set)
		set = append(set, unix.PollFd{Fd: int32(wake), Events: unix.POLLIN})
	}
	if hasReal {
		tfd, errno := realtimeTimer(real)
		if errno != 0 {
			return 0, errno
		}
		defer unix.Close(tfd)
		timerIdx = len(set)
		set = append(set, unix.PollFd{Fd: int32(tfd), Events: unix.POLLIN})
	}

	for {
		var timeout *unix.Timespec
		var ts unix.Timespec
		if hasMono {
			if monoNow < 0 {
				var errno Errno
				if monoNow, errno = Now(unix.CLOCK_MONOTONIC); errno != 0 {
					return 0, errno
				}
			}
			ts = unix.NsecToTimespec(max(mono-monoNow, 0))
			timeout = &ts
		}
		monoNow = -1
		for i := range set {
			set[i].Revents = 0
		}
		n, err := ppoll(set, timeout)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, ErrnoFromError(err)
		}
		ready := 0
		for i := range fds {
			fds[i].Revents = set[i].Revents
			if set[i].Revents != 0 {
				ready++
			}
		}
		if ready > 0 {
			return ready, ESUCCESS
		}
		if wakeIdx >= 0 && set[wakeIdx].Revents != 0 {
			drain(int(set[wakeIdx].Fd))
			if ctx.Err() != nil {
				return 0, ECANCELED
			}
			continue // a late signal from an earlier wait
		}
		if n == 0 && hasMono {
			if mono <= 0 {
				return 0, ESUCCESS
			}
			now, _ := Now(unix.CLOCK_MONOTONIC)
			if now >= mono {
				return 0, ESUCCESS
			}
			monoNow = now
			continue // woke before the deadline: wait for the rest
		}
		if timerIdx >= 0 && set[timerIdx].Revents != 0 {
			if now, _ := Now(unix.CLOCK_REALTIME); now >= real {
				return 0, ESUCCESS
			}
			// The wall clock was set back after the timer fired; the
			// timerfd is not re-armed by that, so arm it again.
			drain(int(set[timerIdx].Fd))
			if errno := armRealtime(int(set[timerIdx].Fd), real); errno != 0 {
				return 0, errno
			}
		}
	}
}

// drain empties an eventfd, a wake pipe or a timerfd (all non-blocking).
func drain(fd int) {
	var buf [8]byte
	unix.Read(fd, buf[:])
}

// AlwaysReady reports whether f needs no kernel wait: a regular file is
// always readable and writable. Where poll(2) cannot wait for devices
// (macOS: a terminal gives POLLNVAL), a character device is reported ready
// too, and the guest's read or write then waits for it.
func (f *File) AlwaysReady() bool {
	return f.Type == FiletypeRegularFile || !pollsDevices && f.Type == FiletypeCharacterDevice
}

// Readable returns the number of bytes a read of f would find now: for a
// regular file the bytes after the offset, for anything else what FIONREAD
// says (0 when the descriptor does not support it).
func (f *File) Readable() uint64 {
	if f.Type == FiletypeRegularFile {
		var st unix.Stat_t
		if err := unix.Fstat(f.Fd, &st); err != nil {
			return 0
		}
		off, err := unix.Seek(f.Fd, 0, unix.SEEK_CUR)
		if err != nil || off >= st.Size {
			return 0
		}
		return uint64(st.Size - off)
	}
	// FIONREAD (TIOCINQ == SIOCINQ on Linux); it never blocks (see
	// nonblockingIO).
	var n int32
	if _, _, e := unix.RawSyscall(unix.SYS_IOCTL, uintptr(f.Fd), ioctlFIONREAD, uintptr(unsafe.Pointer(&n))); e != 0 || n < 0 {
		return 0
	}
	return uint64(n)
}
