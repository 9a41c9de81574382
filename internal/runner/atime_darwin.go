package runner

import (
	"os"
	"syscall"
	"time"
)

// accessTime is fi's last access time (zero when unknown).
func accessTime(fi os.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Atimespec.Unix())
	}
	return time.Time{}
}
