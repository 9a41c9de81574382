//go:build linux && darwinemul

package sys

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// With the darwinemul build tag, Linux runs macOS's Unix socket paths
// (sockunix_nofollow.go) with these stand-ins.

// maxUnixPath is macOS's sun_path size, so that its limits are tested.
const maxUnixPath = 104

// haveNofollow: the kernel's "/.nofollow/" prefix is stood in for below.
func haveNofollow() bool { return true }

// entryAddr names the entry name of directory dirfd as macOS's
// "/.nofollow/.vol/D/I/name" does: the directory by its identity
// (/proc/self/fd/N), and no symlink followed in the last component. Linux's
// bind never follows one (EADDRINUSE); for connect the entry is opened
// without following (O_PATH|O_NOFOLLOW) and a symlink is ELOOP, as macOS
// refuses it, atomically with the lookup.
func entryAddr(dirfd int, name string, target bool) (string, func(), Errno) {
	if !target {
		return "/proc/self/fd/" + strconv.Itoa(dirfd) + "/" + name, func() {}, ESUCCESS
	}
	fd, err := openatRetry(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW, 0)
	if err != nil {
		return "", nil, ErrnoFromError(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT == unix.S_IFLNK {
		unix.Close(fd)
		return "", nil, ELOOP
	}
	return "/proc/self/fd/" + strconv.Itoa(fd), func() { unix.Close(fd) }, ESUCCESS
}
