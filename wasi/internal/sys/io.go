//go:build linux || darwin

package sys

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Read reads into bufs from fd (readv). A descriptor the guest made
// non-blocking gets EAGAIN instead of waiting, even when the host
// descriptor itself is blocking (it may be shared, like a terminal).
func (s *System) Read(fd int32, bufs [][]byte) (uint32, Errno) {
	return s.stream(fd, RightFdRead, unix.POLLIN, nil, func(f *File) (int, error) {
		if f.Sock != nil && f.Sock.relay {
			n, _, _, err := s.relayRecv(f, bufs, 0)
			return n, err
		}
		if s.hearsPeersOnly(f) {
			flags := 0
			if f.hostNonblocking() {
				flags = unix.MSG_DONTWAIT
			}
			n, _, _, err := s.recvFromPeer(f, bufs, flags)
			return n, err
		}
		if f.hostNonblocking() {
			return s.nonblockingIO(unix.SYS_READV, f.Fd, bufs)
		}
		return unix.Readv(f.Fd, bufs)
	})
}

// Write writes bufs to fd (writev), with the same non-blocking rule as Read.
func (s *System) Write(fd int32, bufs [][]byte) (uint32, Errno) {
	return s.stream(fd, RightFdWrite, unix.POLLOUT, bufs, func(f *File) (int, error) {
		if f.Sock != nil && f.Sock.relay {
			return s.relayWrite(f, bufs, f.Sock.peer, sendFlags(f))
		}
		if rwf := f.rwfAppend(); rwf != 0 {
			return pwritev2(f.Fd, bufs, -1, rwf) // -1: at (and moving) the file position
		}
		if f.hostNonblocking() {
			return s.nonblockingIO(unix.SYS_WRITEV, f.Fd, bufs)
		}
		return unix.Writev(f.Fd, bufs)
	})
}

// stream runs op, a read or write at the file position, on fd after checking
// its right and its type, and the guest's non-blocking mode for events; it
// retries op after EINTR. bufs are what a write writes (nil for a read), for
// the emulated epoll_oneoff (edgeWrite).
func (s *System) stream(fd int32, right Rights, events int16, bufs [][]byte, op func(*File) (int, error)) (uint32, Errno) {
	f, errno := s.LookupRights(fd, right)
	if errno != 0 {
		return 0, errno
	}
	if f.Type == FiletypeDirectory {
		return 0, EISDIR
	}
	n := 0
	if errno = f.wouldBlock(events); errno == 0 {
		errno = ErrnoFromError(retry(func() (err error) { n, err = op(f); return err }))
	}
	if f.edge != nil {
		if events == unix.POLLOUT {
			f.edgeWrite(n, buffersLen(bufs), errno)
		} else {
			f.edgeRead(n, errno)
		}
	}
	return uint32(max(n, 0)), errno
}

// rwfAppend is RWF_APPEND when the guest set APPEND on a shared regular file,
// whose host description is left alone: each write appends on its own.
func (f *File) rwfAppend() int {
	if f.Shared && f.Flags&FdflagAppend != 0 && f.Type == FiletypeRegularFile {
		return rwfAppendFlag
	}
	return 0
}

// wouldBlock returns EAGAIN when f is non-blocking for the guest but not on
// the host (sockets the guest owns are made really non-blocking; shared
// descriptors are not, see SetFlags) and is not ready for events.
func (f *File) wouldBlock(events int16) Errno {
	if f.Flags&FdflagNonblock == 0 || f.Sock != nil && !f.Shared || f.Type == FiletypeRegularFile {
		return ESUCCESS
	}
	pfd := []unix.PollFd{{Fd: int32(f.Fd), Events: events}}
	for {
		n, err := unix.Poll(pfd, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return ErrnoFromError(err)
		}
		if n == 0 {
			return EAGAIN
		}
		return ESUCCESS
	}
}

// hostNonblocking reports whether f's host descriptor is non-blocking:
// a socket the guest owns and made non-blocking (SetFlags sets the host's
// O_NONBLOCK on those, and only on those).
func (f *File) hostNonblocking() bool {
	return f.Sock != nil && !f.Shared && f.Flags&FdflagNonblock != 0
}

// A system call that cannot block is made raw (unix.RawSyscall), without
// telling the Go scheduler that the thread may block in it: a non-blocking
// socket's readv, writev, recvmsg and sendmsg, FIONREAD, a ppoll with a
// zero timeout. The scheduler's bookkeeping of a blocking call is a
// noticeable share of what such a call costs, and a call that the kernel
// keeps for a while (a loopback writev delivers to the peer, and the thread
// may be preempted in it) made Go's sysmon hand the thread's P away, and the
// guest's goroutine wait for one afterwards. Blocking calls stay
// unix.Syscall.

// nonblockingIO is readv or writev (trap) on a non-blocking host descriptor
// as a raw system call, the iovecs built in s's scratch slice (a guest is
// single-threaded).
func (s *System) nonblockingIO(trap uintptr, fd int, bufs [][]byte) (int, error) {
	iov := s.iovecs(bufs)
	defer s.doneIovecs()
	var p unsafe.Pointer
	if len(iov) > 0 {
		p = unsafe.Pointer(&iov[0])
	}
	r, _, e := unix.RawSyscall(trap, uintptr(fd), uintptr(p), uintptr(len(iov)))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// msg is recvmsg(2) or sendmsg(2) (trap) of bufs without an address or
// control data: unix.RecvmsgBuffers allocates a sockaddr for every call,
// and a stream socket's receive and send are hot calls. It is raw when it
// cannot block (MSG_DONTWAIT, or a non-blocking socket). The iovecs are
// built in s's scratch slice.
func (s *System) msg(trap uintptr, f *File, bufs [][]byte, flags int) (n, rflags int, err error) {
	iov := s.iovecs(bufs)
	defer s.doneIovecs()
	var msg unix.Msghdr
	if len(iov) > 0 {
		msg.Iov = &iov[0]
		msg.SetIovlen(len(iov))
	}
	call := unix.Syscall
	if flags&unix.MSG_DONTWAIT != 0 || f.hostNonblocking() {
		call = unix.RawSyscall
	}
	r, _, e := call(trap, uintptr(f.Fd), uintptr(unsafe.Pointer(&msg)), uintptr(flags))
	if e != 0 {
		return 0, 0, e
	}
	return int(r), int(msg.Flags), nil
}

// iovecs returns bufs as the kernel's iovecs, in s's scratch slice.
func (s *System) iovecs(bufs [][]byte) []unix.Iovec {
	iov := s.iov[:0]
	for _, b := range bufs {
		v := unix.Iovec{}
		if len(b) > 0 {
			v.Base = &b[0]
			v.SetLen(len(b))
		}
		iov = append(iov, v)
	}
	s.iov = iov
	return iov
}

// doneIovecs drops the scratch iovecs' pointers into guest memory.
func (s *System) doneIovecs() {
	clear(s.iov)
	s.iov = s.iov[:0]
}
