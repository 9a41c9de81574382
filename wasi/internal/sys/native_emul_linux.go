//go:build linux && darwinemul

package sys

import "golang.org/x/sys/unix"

// With the darwinemul build tag, Linux makes these calls as macOS does
// (hostemul_unix.go, walk_unix.go): the whole suite then runs them.

func sockDomain(fd int) (int, error) { return sockDomainByName(fd) }

func fallocate(fd int, off, length int64) error { return fallocateByTruncate(fd, off, length) }

func futimens(fd int, ts []unix.Timespec) error { return futimesOf(fd, ts) }

const rwfAppendFlag = appendFlag

func pwritev2(fd int, bufs [][]byte, off int64, flags int) (int, error) {
	return pwritevAppend(fd, bufs, off, flags)
}

// haveTimerfd: as on macOS, a wall-clock deadline becomes a monotonic one.
const haveTimerfd = false

func newWake() (r, w int, err error) { return wakePipe() }

func ppoll(set []unix.PollFd, timeout *unix.Timespec) (int, error) { return pollRounded(set, timeout) }

func realtimeTimer(at int64) (int, Errno) { return -1, ENOSYS }

func armRealtime(fd int, at int64) Errno { return ENOSYS }
