//go:build darwin

package sys

import (
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxUnixPath is the size of sun_path including its terminating NUL.
const maxUnixPath = 104

// haveNofollow reports whether the kernel gives the "/.nofollow/" path
// prefix its meaning (macOS 15.4 and later): "/.nofollow/" is then the root
// directory itself, while a plain name "/.nofollow" does not exist (nor is a
// symlink that would pass for the prefix).
var haveNofollow = sync.OnceValue(func() bool {
	var root, pre, name unix.Stat_t
	if unix.Stat("/", &root) != nil || unix.Stat("/.nofollow/", &pre) != nil {
		return false
	}
	return unix.Lstat("/.nofollow", &name) == unix.ENOENT && pre.Dev == root.Dev && pre.Ino == root.Ino
})

// entryAddr is the sun_path of the entry name in directory dirfd (see
// sockunix_nofollow.go): the directory by its volfs identity, no symlink
// followed. Nothing is opened.
func entryAddr(dirfd int, name string, target bool) (string, func(), Errno) {
	var st unix.Stat_t
	if err := unix.Fstat(dirfd, &st); err != nil {
		return "", nil, ErrnoFromError(err)
	}
	host := "/.nofollow/.vol/" + strconv.FormatUint(uint64(uint32(st.Dev)), 10) + "/" +
		strconv.FormatUint(st.Ino, 10) + "/" + name
	return host, func() {}, ESUCCESS
}

// fdPath is the host path of an open directory (F_GETPATH): its real path,
// symlinks such as /tmp → /private/tmp resolved.
func fdPath(fd int) (string, error) {
	buf := make([]byte, unix.PathMax)
	// Raw fcntl, so that the buffer stays put during the call.
	_, _, e := unix.Syscall(unix.SYS_FCNTL, uintptr(fd), unix.F_GETPATH, uintptr(unsafe.Pointer(&buf[0])))
	if e != 0 {
		return "", e
	}
	n := strings.IndexByte(string(buf), 0)
	if n < 0 {
		n = len(buf)
	}
	return string(buf[:n]), nil
}
