package sys

// Readdir returns fd's entries from position cookie on. Cookies are
// positions in a snapshot of the directory taken (getdents64 on Linux) when the
// guest starts at cookie 0 (or on the first call); later calls page
// through that snapshot, so listing a large directory in small buffers
// costs one read of it, not one per call. The snapshot includes "." and
// ".." (wasi-libc and Rust expect them). A cookie past the end gives no
// entries. Needs FD_READDIR; a non-directory is ENOTDIR.
func (s *System) Readdir(fd int32, cookie uint64) ([]Dirent, Errno) {
	f, errno := s.LookupRights(fd, RightFdReaddir)
	if errno != 0 {
		return nil, errno
	}
	if f.Type != FiletypeDirectory {
		return nil, ENOTDIR
	}
	if f.Dir == nil || cookie == 0 {
		entries, errno := f.readDir()
		if errno != 0 {
			return nil, errno
		}
		f.Dir = &DirState{Entries: entries}
	}
	if cookie >= uint64(len(f.Dir.Entries)) {
		return nil, ESUCCESS
	}
	return f.Dir.Entries[cookie:], ESUCCESS
}
