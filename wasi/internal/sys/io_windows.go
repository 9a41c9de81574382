package sys

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/windows"
)

// Read reads into bufs from fd: a socket's data (WSARecv), or what the
// file gives. A stream (console, pipe) is read once, into the first
// non-empty buffer, so a read returns what is there and never waits for
// more; a regular file fills the buffers in turn like readv. A pipe or
// console the guest made non-blocking gives EAGAIN when there is nothing
// to read (see stream_windows.go).
func (s *System) Read(fd int32, bufs [][]byte) (uint32, Errno) {
	f, errno := s.streamFile(fd, RightFdRead)
	if errno != 0 {
		return 0, errno
	}
	if f.Sock != nil {
		n, _, _, errno := s.sockRecv(fd, bufs, 0, false)
		return n, errno
	}
	if f.Flags&FdflagNonblock != 0 && f.host.kind != kindOther &&
		streamRevents(f.host.kind, windows.Handle(f.host.file.Fd()), PollIn) == 0 {
		f.edgeRead(0, EAGAIN)
		return 0, EAGAIN // nothing there for a guest that will not wait
	}
	total, errno := f.readFile(bufs)
	f.edgeRead(total, errno)
	return uint32(total), errno
}

// readFile reads into bufs from a file, a pipe or the console (see Read).
func (f *File) readFile(bufs [][]byte) (int, Errno) {
	var total int
	for _, b := range bufs {
		if len(b) == 0 {
			continue
		}
		n, err := f.host.file.Read(b)
		total += n
		if err == io.EOF || errors.Is(err, os.ErrClosed) && n > 0 {
			break
		}
		if err != nil {
			if total > 0 {
				break
			}
			return 0, fileErrno(err)
		}
		if n < len(b) || f.Type != FiletypeRegularFile {
			break
		}
	}
	return total, ESUCCESS
}

// Write writes bufs to fd in order. APPEND is emulated: each write of a
// regular file with APPEND set starts at its end (not atomically with
// other writers of the file).
func (s *System) Write(fd int32, bufs [][]byte) (uint32, Errno) {
	f, errno := s.streamFile(fd, RightFdWrite)
	if errno != 0 {
		return 0, errno
	}
	if f.Sock != nil {
		return s.sockSend(fd, bufs, nil)
	}
	if f.Flags&FdflagAppend != 0 && f.Type == FiletypeRegularFile {
		if _, err := f.host.file.Seek(0, io.SeekEnd); err != nil {
			return 0, fileErrno(err)
		}
	}
	var total int
	for _, b := range bufs {
		n, err := f.host.file.Write(b)
		total += n
		if err != nil {
			if total > 0 {
				break
			}
			return 0, fileErrno(err)
		}
	}
	return uint32(total), ESUCCESS
}

// streamFile returns fd for a read or write at its position, with right.
func (s *System) streamFile(fd int32, right Rights) (*File, Errno) {
	f, errno := s.LookupRights(fd, right)
	if errno != 0 {
		return nil, errno
	}
	if f.Type == FiletypeDirectory {
		return nil, EISDIR
	}
	if f.Sock == nil && f.host.file == nil {
		return nil, EBADF
	}
	return f, ESUCCESS
}

// Pread reads into bufs at off without moving the file position.
func (s *System) Pread(fd int32, bufs [][]byte, off uint64) (uint32, Errno) {
	return s.positioned(fd, RightFdRead, off, func(f *File, o int64) (int, error) {
		if f.host.file == nil || f.Type != FiletypeRegularFile {
			return 0, ESPIPE
		}
		total := 0
		for _, b := range bufs {
			n, err := f.host.file.ReadAt(b, o+int64(total))
			total += n
			if err == io.EOF {
				return total, nil
			}
			if err != nil {
				return total, err
			}
		}
		return total, nil
	})
}

// Pwrite writes bufs at off without moving the file position.
func (s *System) Pwrite(fd int32, bufs [][]byte, off uint64) (uint32, Errno) {
	return s.positioned(fd, RightFdWrite, off, func(f *File, o int64) (int, error) {
		if f.host.file == nil || f.Type != FiletypeRegularFile {
			return 0, ESPIPE
		}
		total := 0
		for _, b := range bufs {
			n, err := f.host.file.WriteAt(b, o+int64(total))
			total += n
			if err != nil {
				return total, err
			}
		}
		return total, nil
	})
}
