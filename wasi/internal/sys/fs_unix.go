//go:build linux || darwin

package sys

import (
	"math"

	"golang.org/x/sys/unix"
)

// Filestat is the preview1 filestat; times are nanoseconds since the epoch.
type Filestat struct {
	Dev, Ino         uint64
	Type             Filetype
	Nlink, Size      uint64
	Atim, Mtim, Ctim uint64
}

func filestatFromStat(st *unix.Stat_t) Filestat {
	return Filestat{
		Dev:   uint64(st.Dev),
		Ino:   st.Ino,
		Type:  ModeFiletype(uint32(st.Mode)),
		Nlink: uint64(st.Nlink),
		Size:  uint64(st.Size),
		Atim:  uint64(st.Atim.Nano()),
		Mtim:  uint64(st.Mtim.Nano()),
		Ctim:  uint64(st.Ctim.Nano()),
	}
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

// timespecs converts preview1 times and flags to utimensat's pair. A time
// given both explicitly and as "now" is EINVAL, as are unknown flags.
func timespecs(atim, mtim uint64, fst Fstflags) ([]unix.Timespec, Errno) {
	if fst&^(FstflagAtim|FstflagAtimNow|FstflagMtim|FstflagMtimNow) != 0 {
		return nil, EINVAL
	}
	one := func(t uint64, set, now Fstflags) (unix.Timespec, Errno) {
		switch {
		case fst&set != 0 && fst&now != 0:
			return unix.Timespec{}, EINVAL
		case fst&now != 0:
			return unix.Timespec{Nsec: utimeNow}, ESUCCESS
		case fst&set != 0:
			return unix.NsecToTimespec(int64(min(t, math.MaxInt64))), ESUCCESS
		}
		return unix.Timespec{Nsec: utimeOmit}, ESUCCESS
	}
	a, errno := one(atim, FstflagAtim, FstflagAtimNow)
	if errno != 0 {
		return nil, errno
	}
	m, errno := one(mtim, FstflagMtim, FstflagMtimNow)
	if errno != 0 {
		return nil, errno
	}
	return []unix.Timespec{a, m}, ESUCCESS
}

// retry runs a system call again while it is interrupted.
func retry(fn func() error) error {
	for {
		if err := fn(); err != unix.EINTR {
			return err
		}
	}
}

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

// Advise passes an access-pattern hint to the kernel (posix_fadvise).
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
	return ErrnoFromError(fadvise(f.Fd, o, l, advice))
}

// Allocate makes sure [off, off+length) is allocated (fallocate mode 0,
// growing the file if needed). A zero length or an overflowing range is
// EINVAL; a file system without fallocate gives ENOTSUP.
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
	return ErrnoFromError(retry(func() error { return fallocate(f.Fd, o, l) }))
}

// Datasync flushes fd's data (fdatasync).
func (s *System) Datasync(fd int32) Errno {
	f, errno := s.LookupRights(fd, RightFdDatasync)
	if errno != 0 {
		return errno
	}
	return ErrnoFromError(retry(func() error { return fdatasync(f.Fd) }))
}

// Sync flushes fd's data and metadata (fsync).
func (s *System) Sync(fd int32) Errno {
	f, errno := s.LookupRights(fd, RightFdSync)
	if errno != 0 {
		return errno
	}
	return ErrnoFromError(retry(func() error { return unix.Fsync(f.Fd) }))
}

// SetFlags changes fd's fdflags. APPEND is set on the host descriptor;
// NONBLOCK is set on the host descriptor of the guest's own sockets and
// only recorded for everything else, shared sockets on stdio included (Read
// and Write, and the socket calls but connect, emulate it, since the host
// descriptor may be shared). The sync flags cannot be changed after open on Linux: a
// change is ENOTSUP. Unknown bits are EINVAL.
func (s *System) SetFlags(fd int32, flags Fdflags) Errno {
	f, errno := s.LookupRights(fd, RightFdFdstatSetFlags)
	if errno != 0 {
		return errno
	}
	syncFlags := FdflagDsync | FdflagRsync | FdflagSync
	if flags&^(FdflagAppend|syncFlags|FdflagNonblock) != 0 {
		return EINVAL
	}
	if (flags^f.Flags)&syncFlags != 0 {
		return ENOTSUP
	}
	host, err := unix.FcntlInt(uintptr(f.Fd), unix.F_GETFL, 0)
	if err != nil {
		return ErrnoFromError(err)
	}
	if f.Shared {
		// Changing the shared file description would change it for the
		// host too; APPEND is emulated by Write instead. A description
		// the host opened for appending cannot stop appending.
		if flags&FdflagAppend == 0 && host&unix.O_APPEND != 0 {
			return ENOTSUP
		}
		f.Flags = flags
		return ESUCCESS
	}
	want := host &^ unix.O_APPEND
	if flags&FdflagAppend != 0 {
		want |= unix.O_APPEND
	}
	if f.Sock != nil {
		want &^= unix.O_NONBLOCK
		if flags&FdflagNonblock != 0 {
			want |= unix.O_NONBLOCK
		}
	}
	if want != host {
		if _, err := unix.FcntlInt(uintptr(f.Fd), unix.F_SETFL, want); err != nil {
			return ErrnoFromError(err)
		}
	}
	f.Flags = flags
	return ESUCCESS
}

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

// Filestat returns fd's attributes (fstat). A socket reports the type it
// was created as.
func (s *System) Filestat(fd int32) (Filestat, Errno) {
	f, errno := s.LookupRights(fd, RightFdFilestatGet)
	if errno != 0 {
		return Filestat{}, errno
	}
	var st unix.Stat_t
	if err := unix.Fstat(f.Fd, &st); err != nil {
		return Filestat{}, ErrnoFromError(err)
	}
	fs := filestatFromStat(&st)
	if f.Sock != nil {
		fs.Type = f.Type // fstat cannot tell a datagram socket
	}
	return fs, ESUCCESS
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
	return ErrnoFromError(retry(func() error { return unix.Ftruncate(f.Fd, n) }))
}

// SetTimes sets fd's access and modification times (futimens).
func (s *System) SetTimes(fd int32, atim, mtim uint64, fst Fstflags) Errno {
	f, errno := s.LookupRights(fd, RightFdFilestatSetTimes)
	if errno != 0 {
		return errno
	}
	ts, errno := timespecs(atim, mtim, fst)
	if errno != 0 {
		return errno
	}
	return ErrnoFromError(futimens(f.Fd, ts))
}

// Pread reads into bufs at off without moving the file position (preadv).
func (s *System) Pread(fd int32, bufs [][]byte, off uint64) (uint32, Errno) {
	return s.positioned(fd, RightFdRead, off, func(f *File, o int64) (int, error) {
		return unix.Preadv(f.Fd, bufs, o)
	})
}

// Pwrite writes bufs at off without moving the file position (pwritev). As
// on Linux, a descriptor opened with APPEND appends regardless of off.
func (s *System) Pwrite(fd int32, bufs [][]byte, off uint64) (uint32, Errno) {
	return s.positioned(fd, RightFdWrite, off, func(f *File, o int64) (int, error) {
		return pwritev2(f.Fd, bufs, o, f.rwfAppend())
	})
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

// Whence values of fd_seek.
const (
	WhenceSet = iota
	WhenceCur
	WhenceEnd
)

// Seek moves fd's position and returns the new one (lseek). It needs
// FD_SEEK, or only FD_TELL for a zero move from the current position.
// Pipes, sockets and other streams are ESPIPE; a directory is ENOTCAPABLE
// (it carries neither right). whence > 2 is EINVAL.
func (s *System) Seek(fd int32, off int64, whence uint8) (uint64, Errno) {
	f, errno := s.Lookup(fd)
	if errno != 0 {
		return 0, errno
	}
	if whence > WhenceEnd {
		return 0, EINVAL
	}
	need := RightFdSeek
	if whence == WhenceCur && off == 0 {
		need = RightFdTell
	}
	if !f.Has(need) {
		if f.Type != FiletypeRegularFile && f.Type != FiletypeDirectory {
			return 0, ESPIPE
		}
		return 0, ENOTCAPABLE
	}
	pos, err := unix.Seek(f.Fd, off, int(whence))
	if err != nil {
		return 0, ErrnoFromError(err)
	}
	return uint64(pos), ESUCCESS
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
		s.releasePorts(prev)
		unix.Close(prev.Fd)
	}
	return ESUCCESS
}
