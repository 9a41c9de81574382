package sys

import "math"

// Filestat is the preview1 filestat; times are nanoseconds since the epoch.
type Filestat struct {
	Dev, Ino         uint64
	Type             Filetype
	Nlink, Size      uint64
	Atim, Mtim, Ctim uint64
}

// Fstflags say which times fd_filestat_set_times and
// path_filestat_set_times set, and whether to "now".
type Fstflags uint16

const (
	FstflagAtim Fstflags = 1 << iota
	FstflagAtimNow
	FstflagMtim
	FstflagMtimNow
)

// offset converts a guest u64 offset or length to a host one.
func offset(v uint64) (int64, Errno) {
	if v > math.MaxInt64 {
		return 0, EINVAL
	}
	return int64(v), ESUCCESS
}

// Advice values of fd_advise, in preview1 order.
const (
	AdviceNormal = iota
	AdviceSequential
	AdviceRandom
	AdviceWillNeed
	AdviceDontNeed
	AdviceNoReuse
)

// Whence values of fd_seek.
const (
	WhenceSet = iota
	WhenceCur
	WhenceEnd
)

// SetRights narrows fd's rights; asking for a right it does not have is
// ENOTCAPABLE.
func (s *System) SetRights(fd int32, base, inheriting Rights) Errno {
	f, errno := s.Lookup(fd)
	if errno != 0 {
		return errno
	}
	if base&^f.RightsBase != 0 || inheriting&^f.RightsInheriting != 0 {
		return ENOTCAPABLE
	}
	f.RightsBase, f.RightsInheriting = base, inheriting
	return ESUCCESS
}

// positioned runs op, a read or write at an offset, on fd after checking its
// right and its type and converting the offset; it retries op after EINTR.
func (s *System) positioned(fd int32, right Rights, off uint64, op func(*File, int64) (int, error)) (uint32, Errno) {
	f, errno := s.LookupRights(fd, right)
	if errno != 0 {
		return 0, errno
	}
	if f.Type == FiletypeDirectory {
		return 0, EISDIR
	}
	o, errno := offset(off)
	if errno != 0 {
		return 0, errno
	}
	var n int
	err := retry(func() (err error) { n, err = op(f, o); return err })
	return uint32(max(n, 0)), ErrnoFromError(err)
}

// lookupSeek returns fd for a seek by off from whence: it needs FD_SEEK,
// or only FD_TELL for a zero move from the current position. Pipes,
// sockets and other streams are ESPIPE; a directory is ENOTCAPABLE (it
// carries neither right). whence > 2 is EINVAL.
func (s *System) lookupSeek(fd int32, off int64, whence uint8) (*File, Errno) {
	f, errno := s.Lookup(fd)
	if errno != 0 {
		return nil, errno
	}
	if whence > WhenceEnd {
		return nil, EINVAL
	}
	need := RightFdSeek
	if whence == WhenceCur && off == 0 {
		need = RightFdTell
	}
	if !f.Has(need) {
		if f.Type != FiletypeRegularFile && f.Type != FiletypeDirectory {
			return nil, ESPIPE
		}
		return nil, ENOTCAPABLE
	}
	return f, ESUCCESS
}

// Tell returns fd's position: Seek(fd, 0, WhenceCur).
func (s *System) Tell(fd int32) (uint64, Errno) {
	return s.Seek(fd, 0, WhenceCur)
}

// Renumber moves descriptor from to fd to, closing what was at to. Both
// must be open (EBADF otherwise); preopens may be moved and replaced.
func (s *System) Renumber(from, to int32) Errno {
	f, errno := s.Lookup(from)
	if errno != 0 {
		return errno
	}
	if _, errno := s.Lookup(to); errno != 0 {
		return errno
	}
	if from == to {
		return ESUCCESS
	}
	s.FDs.Delete(from)
	if prev := s.FDs.InsertAt(to, f); prev != nil {
		s.forget(prev)
		prev.closeHost()
	}
	return ESUCCESS
}

// Advise passes an access-pattern hint to the kernel (posix_fadvise; Windows has none).
// Advice outside 0..5 is EINVAL.
func (s *System) Advise(fd int32, off, length uint64, advice uint8) Errno {
	f, errno := s.LookupRights(fd, RightFdAdvise)
	if errno != 0 {
		return errno
	}
	if advice > AdviceNoReuse {
		return EINVAL
	}
	o, errno := offset(off)
	if errno != 0 {
		return errno
	}
	l, errno := offset(length)
	if errno != 0 {
		return errno
	}
	if f.Type == FiletypeDirectory {
		return ESUCCESS // a hint; directories have no page cache to advise
	}
	return ErrnoFromError(f.fadvise(o, l, advice))
}

// Allocate makes sure [off, off+length) is allocated (fallocate mode 0,
// growing the file if needed). A zero length or an overflowing range is
// EINVAL; a file system without fallocate gives ENOTSUP. Windows
// has no fallocate: the file is grown with zeros.
func (s *System) Allocate(fd int32, off, length uint64) Errno {
	f, errno := s.LookupRights(fd, RightFdAllocate)
	if errno != 0 {
		return errno
	}
	if f.Type == FiletypeDirectory {
		return EISDIR
	}
	o, errno := offset(off)
	if errno != 0 {
		return errno
	}
	l, errno := offset(length)
	if errno != 0 || l == 0 || o > math.MaxInt64-l {
		return EINVAL
	}
	return ErrnoFromError(retry(func() error { return f.fallocate(o, l) }))
}

// Datasync flushes fd's data (fdatasync).
func (s *System) Datasync(fd int32) Errno {
	f, errno := s.LookupRights(fd, RightFdDatasync)
	if errno != 0 {
		return errno
	}
	return ErrnoFromError(retry(func() error { return f.fdatasync() }))
}

// Sync flushes fd's data and metadata (fsync).
func (s *System) Sync(fd int32) Errno {
	f, errno := s.LookupRights(fd, RightFdSync)
	if errno != 0 {
		return errno
	}
	return ErrnoFromError(retry(func() error { return f.fsync() }))
}

// SetSize truncates or extends fd's file to size (ftruncate).
func (s *System) SetSize(fd int32, size uint64) Errno {
	f, errno := s.LookupRights(fd, RightFdFilestatSetSize)
	if errno != 0 {
		return errno
	}
	if f.Type == FiletypeDirectory {
		return EISDIR
	}
	n, errno := offset(size)
	if errno != 0 {
		return errno
	}
	return ErrnoFromError(retry(func() error { return f.ftruncate(n) }))
}

// lookupSetFlags returns fd for fd_fdstat_set_flags to flags: unknown
// bits are EINVAL, a change of the sync flags (fixed at open) ENOTSUP.
func (s *System) lookupSetFlags(fd int32, flags Fdflags) (*File, Errno) {
	f, errno := s.LookupRights(fd, RightFdFdstatSetFlags)
	if errno != 0 {
		return nil, errno
	}
	syncFlags := FdflagDsync | FdflagRsync | FdflagSync
	if flags&^(FdflagAppend|syncFlags|FdflagNonblock) != 0 {
		return nil, EINVAL
	}
	if (flags^f.Flags)&syncFlags != 0 {
		return nil, ENOTSUP
	}
	return f, ESUCCESS
}
