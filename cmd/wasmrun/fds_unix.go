//go:build linux || darwin

package main

import "golang.org/x/sys/unix"

// setMaxFDs sets RLIMIT_NOFILE (--max-fds).
func setMaxFDs(n uint64) error {
	return unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: n, Max: n})
}
