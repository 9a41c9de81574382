package inherited

import "golang.org/x/sys/unix"

// closeRange marks descriptors 3 and up close-on-exec in one call (Linux
// 5.11 and later), and reports whether it could.
func closeRange() bool {
	return unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC) == nil
}
