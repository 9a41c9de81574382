package liveness

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// Signal sends sig to process pid, recorded with start time start, and to
// no other: a pidfd of pid is opened first and the start time checked
// after, so a process that has taken the pid since is never signalled (the
// pidfd names the process it was opened on, whatever happens to the pid).
// A process that is gone is no error.
func Signal(pid int, start uint64, sig syscall.Signal) error {
	fd, err := unix.PidfdOpen(pid, 0)
	switch {
	case err == unix.ESRCH:
		return nil
	case err != nil:
		// No pidfds (before Linux 5.3): the pid, checked just before.
		if !Alive(pid, start) {
			return nil
		}
		if err := unix.Kill(pid, sig); err != nil && err != unix.ESRCH {
			return err
		}
		return nil
	}
	defer unix.Close(fd)
	if !Alive(pid, start) {
		return nil
	}
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil && err != unix.ESRCH {
		return err
	}
	return nil
}
