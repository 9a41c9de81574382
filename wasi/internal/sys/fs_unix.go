//go:build linux || darwin

package sys

import (
	"math"

	"golang.org/x/sys/unix"
)

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

// SetFlags changes fd's fdflags. APPEND is set on the host descriptor;
// NONBLOCK is set on the host descriptor of the guest's own sockets and
// only recorded for everything else, shared sockets on stdio included (Read
// and Write, and the socket calls but connect, emulate it, since the host
// descriptor may be shared). The sync flags cannot be changed after open on Linux: a
// change is ENOTSUP. Unknown bits are EINVAL.
func (s *System) SetFlags(fd int32, flags Fdflags) Errno {
	f, errno := s.lookupSetFlags(fd, flags)
	if errno != 0 {
		return errno
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

// Seek moves fd's position and returns the new one (lseek). It needs
// FD_SEEK, or only FD_TELL for a zero move from the current position.
// Pipes, sockets and other streams are ESPIPE; a directory is ENOTCAPABLE
// (it carries neither right). whence > 2 is EINVAL.
func (s *System) Seek(fd int32, off int64, whence uint8) (uint64, Errno) {
	f, errno := s.lookupSeek(fd, off, whence)
	if errno != 0 {
		return 0, errno
	}
	pos, err := unix.Seek(f.Fd, off, int(whence))
	if err != nil {
		return 0, ErrnoFromError(err)
	}
	return uint64(pos), ESUCCESS
}

// The host side of Advise, Allocate, Datasync, Sync and SetSize.

func (f *File) fadvise(off, length int64, advice uint8) error {
	return fadvise(f.Fd, off, length, advice)
}

func (f *File) fallocate(off, length int64) error { return fallocate(f.Fd, off, length) }

func (f *File) fdatasync() error { return fdatasync(f.Fd) }

func (f *File) fsync() error { return unix.Fsync(f.Fd) }

func (f *File) ftruncate(size int64) error { return unix.Ftruncate(f.Fd, size) }
