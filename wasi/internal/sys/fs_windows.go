package sys

import (
	"io/fs"
	"math"
	"time"

	"golang.org/x/sys/windows"
)

// SetFlags changes fd's fdflags. NONBLOCK is set on the host socket of
// the guest's own sockets (FIONBIO) and only recorded for everything
// else; APPEND is recorded and emulated by Write. The sync flags cannot
// be changed after open: a change is ENOTSUP. Unknown bits are EINVAL.
func (s *System) SetFlags(fd int32, flags Fdflags) Errno {
	f, errno := s.lookupSetFlags(fd, flags)
	if errno != 0 {
		return errno
	}
	if f.Sock != nil && !f.Shared && (flags^f.Flags)&FdflagNonblock != 0 {
		var on uint32
		if flags&FdflagNonblock != 0 {
			on = 1
		}
		if err := ioctlsocket(windows.Handle(f.Fd), fionbio, &on); err != nil {
			return ErrnoFromError(err)
		}
	}
	f.Flags = flags
	return ESUCCESS
}

// Filestat returns fd's attributes (GetFileInformationByHandle). A socket
// reports its type and nothing else.
func (s *System) Filestat(fd int32) (Filestat, Errno) {
	f, errno := s.LookupRights(fd, RightFdFilestatGet)
	if errno != 0 {
		return Filestat{}, errno
	}
	if f.Sock != nil || f.host.file == nil {
		return Filestat{Type: f.Type}, ESUCCESS
	}
	st, errno := handleFilestat(windows.Handle(f.host.file.Fd()))
	if errno != 0 {
		return Filestat{}, errno
	}
	if f.Type != FiletypeRegularFile && f.Type != FiletypeDirectory {
		st.Type = f.Type // the console, a pipe: not a disk file
	}
	return st, ESUCCESS
}

// handleFilestat is the Filestat of an open handle. The device is the
// volume's serial number and the inode the file index, which together
// tell files apart as on Unix.
func handleFilestat(h windows.Handle) (Filestat, Errno) {
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &info); err != nil {
		if t := handleFiletype(h); t != FiletypeRegularFile && t != FiletypeDirectory {
			return Filestat{Type: t, Nlink: 1}, ESUCCESS
		}
		return Filestat{}, ErrnoFromError(err)
	}
	st := Filestat{
		Dev:   uint64(info.VolumeSerialNumber),
		Ino:   uint64(info.FileIndexHigh)<<32 | uint64(info.FileIndexLow),
		Type:  FiletypeRegularFile,
		Nlink: uint64(info.NumberOfLinks),
		Size:  uint64(info.FileSizeHigh)<<32 | uint64(info.FileSizeLow),
		Atim:  uint64(info.LastAccessTime.Nanoseconds()),
		Mtim:  uint64(info.LastWriteTime.Nanoseconds()),
		Ctim:  uint64(info.LastWriteTime.Nanoseconds()),
	}
	if info.FileAttributes&windows.FILE_ATTRIBUTE_DIRECTORY != 0 {
		st.Type = FiletypeDirectory
	}
	return st, ESUCCESS
}

// infoFilestat is the Filestat of what Lstat found (a symlink itself):
// no device or inode, which Windows gives only through a handle.
func infoFilestat(fi fs.FileInfo) Filestat {
	st := Filestat{Type: modeFiletype(fi.Mode()), Nlink: 1, Size: uint64(max(fi.Size(), 0))}
	m := uint64(fi.ModTime().UnixNano())
	st.Atim, st.Mtim, st.Ctim = m, m, m
	if d, ok := fi.Sys().(*windows.Win32FileAttributeData); ok {
		st.Atim = uint64(d.LastAccessTime.Nanoseconds())
	}
	return st
}

// modeFiletype converts a Go file mode to a preview1 filetype.
func modeFiletype(m fs.FileMode) Filetype {
	switch {
	case m&fs.ModeSymlink != 0:
		return FiletypeSymbolicLink
	case m.IsDir():
		return FiletypeDirectory
	case m.IsRegular():
		return FiletypeRegularFile
	case m&fs.ModeCharDevice != 0:
		return FiletypeCharacterDevice
	case m&fs.ModeDevice != 0:
		return FiletypeBlockDevice
	case m&fs.ModeSocket != 0:
		return FiletypeSocketStream
	}
	return FiletypeUnknown
}

// SetTimes sets fd's access and modification times (SetFileTime),
// through a handle of its own with FILE_WRITE_ATTRIBUTES when fd has no
// write access (a directory, a file opened read-only).
func (s *System) SetTimes(fd int32, atim, mtim uint64, fst Fstflags) Errno {
	f, errno := s.LookupRights(fd, RightFdFilestatSetTimes)
	if errno != 0 {
		return errno
	}
	a, m, errno := filetimes(atim, mtim, fst)
	if errno != 0 {
		return errno
	}
	if f.host.file == nil {
		return EBADF
	}
	h := windows.Handle(f.host.file.Fd())
	err := windows.SetFileTime(h, nil, a, m)
	if err == windows.ERROR_ACCESS_DENIED {
		// Opened without FILE_WRITE_ATTRIBUTES (read-only, or a
		// directory): a handle of its own with it, as futimens needs no
		// write access on Linux either.
		r, _, rerr := procReOpenFile.Call(uintptr(h), windows.FILE_WRITE_ATTRIBUTES,
			windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE, windows.FILE_FLAG_BACKUP_SEMANTICS)
		if wh := windows.Handle(r); wh == windows.InvalidHandle {
			err = rerr
		} else {
			err = windows.SetFileTime(wh, nil, a, m)
			windows.CloseHandle(wh)
		}
	}
	return ErrnoFromError(err)
}

var procReOpenFile = kernel32.NewProc("ReOpenFile")

// filetimes converts preview1 times and flags to SetFileTime's: nil
// leaves a time unchanged. A time given both explicitly and as "now" is
// EINVAL, as are unknown flags.
func filetimes(atim, mtim uint64, fst Fstflags) (a, m *windows.Filetime, errno Errno) {
	if fst&^(FstflagAtim|FstflagAtimNow|FstflagMtim|FstflagMtimNow) != 0 {
		return nil, nil, EINVAL
	}
	now := time.Now().UnixNano()
	one := func(t uint64, set, isNow Fstflags) (*windows.Filetime, Errno) {
		switch {
		case fst&set != 0 && fst&isNow != 0:
			return nil, EINVAL
		case fst&isNow != 0:
			ft := windows.NsecToFiletime(now)
			return &ft, ESUCCESS
		case fst&set != 0:
			ft := windows.NsecToFiletime(int64(min(t, math.MaxInt64)))
			return &ft, ESUCCESS
		}
		return nil, ESUCCESS
	}
	if a, errno = one(atim, FstflagAtim, FstflagAtimNow); errno != 0 {
		return nil, nil, errno
	}
	if m, errno = one(mtim, FstflagMtim, FstflagMtimNow); errno != 0 {
		return nil, nil, errno
	}
	return a, m, ESUCCESS
}

// Seek moves fd's position and returns the new one (see lookupSeek for
// the rights it needs).
func (s *System) Seek(fd int32, off int64, whence uint8) (uint64, Errno) {
	f, errno := s.lookupSeek(fd, off, whence)
	if errno != 0 {
		return 0, errno
	}
	if f.host.file == nil || f.Type != FiletypeRegularFile {
		return 0, ESPIPE
	}
	pos, err := f.host.file.Seek(off, int(whence))
	if err != nil {
		return 0, fileErrno(err)
	}
	return uint64(pos), ESUCCESS
}

// The host side of Advise, Allocate, Datasync, Sync and SetSize.

// fadvise does nothing: Windows takes access patterns when opening.
func (f *File) fadvise(off, length int64, advice uint8) error { return nil }

// fallocate grows the file to off+length with zeros when it is shorter.
func (f *File) fallocate(off, length int64) error {
	if f.host.file == nil {
		return ESPIPE
	}
	st, err := f.host.file.Stat()
	if err != nil || st.Size() >= off+length {
		return err
	}
	return f.host.file.Truncate(off + length)
}

// fdatasync is fsync: FlushFileBuffers flushes data and metadata.
func (f *File) fdatasync() error { return f.fsync() }

// fsync flushes a regular file; a directory or a stream has nothing to
// flush (Windows refuses FlushFileBuffers on a directory opened for
// reading).
func (f *File) fsync() error {
	if f.Type != FiletypeRegularFile || f.host.file == nil {
		return nil
	}
	return f.host.file.Sync()
}

func (f *File) ftruncate(size int64) error {
	if f.host.file == nil {
		return EINVAL
	}
	return f.host.file.Truncate(size)
}
