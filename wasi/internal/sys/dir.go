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
		s.dropDir(f)
		size := int64(0)
		for _, e := range entries {
			size += direntCost + int64(len(e.Name))
		}
		if s.dirBytes+size > maxDirSnapshots {
			// Snapshots are the host's memory, not the guest's: a guest
			// that opens a large directory again and again must not hold
			// the host's memory with them (ENOMEM, as the kernel's
			// getdents does when it cannot allocate).
			return nil, ENOMEM
		}
		s.dirBytes += size
		f.Dir = &DirState{Entries: entries, size: size}
	}
	if cookie >= uint64(len(f.Dir.Entries)) {
		return nil, ESUCCESS
	}
	return f.Dir.Entries[cookie:], ESUCCESS
}

// maxDirSnapshots bounds the memory the snapshots of one guest's open
// directories take together (see Readdir); direntCost is what an entry
// takes besides its name.
const (
	maxDirSnapshots = 64 << 20
	direntCost      = 48
)

// dropDir forgets f's directory snapshot, if it has one.
func (s *System) dropDir(f *File) {
	if f.Dir != nil {
		s.dirBytes -= f.Dir.size
		f.Dir = nil
	}
}
