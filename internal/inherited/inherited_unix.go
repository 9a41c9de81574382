//go:build linux || darwin

package inherited

import (
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

func closeOnExec() {
	if closeRange() {
		return
	}
	// Before Linux 5.11, and on macOS: each open descriptor.
	dir := "/proc/self/fd"
	if runtime.GOOS == "darwin" {
		dir = "/dev/fd"
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
		}
	}
}
