//go:build linux

package sys

import (
	"os"
	"strconv"
)

// fdPath is the host path of an open directory (with darwinemul, it stands
// in for macOS's F_GETPATH).
func fdPath(fd int) (string, error) { return os.Readlink("/proc/self/fd/" + strconv.Itoa(fd)) }
