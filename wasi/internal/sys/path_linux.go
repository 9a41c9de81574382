//go:build linux

package sys

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// oRsync is O_RSYNC, which Linux has.
const oRsync = unix.O_RSYNC

// procFdPath names an open descriptor through /proc, for the calls that can
// follow a descriptor there but have no AT_EMPTY_PATH form usable here.
func procFdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// kernelFS reports whether fd is on a kernel interface: procfs, sysfs or a
// cgroup file system, which no guest may write.
func kernelFS(fd int) bool {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return true // cannot tell: refuse
	}
	switch st.Type {
	case unix.PROC_SUPER_MAGIC, unix.SYSFS_MAGIC, unix.CGROUP_SUPER_MAGIC, unix.CGROUP2_SUPER_MAGIC:
		return true
	}
	return false
}
