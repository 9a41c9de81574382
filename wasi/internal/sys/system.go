//go:build linux || darwin

// Package sys is the system layer under wasmrun's WASI host module: a table
// of guest descriptors backed by real host descriptors, and the operations on
// them (files, directories, sockets, polling), in plain Go.
//
// It never touches guest memory and knows nothing of wazero: every operation
// takes Go values and returns an Errno. The ABI layer in package wasi decodes
// guest memory into those values and writes results back.
package sys

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Preopen is a host directory the guest sees under GuestPath.
type Preopen struct {
	HostPath  string
	GuestPath string
	// ReadOnly: nothing beneath it may be changed (EROFS), and its files
	// are opened read-only on the host.
	ReadOnly bool
}

// System is the state of one guest: its descriptors and environment.
type System struct {
	FDs Table[File]
	// Egress, when set, limits where sockets may connect and send.
	Egress *Egress
	// Outside, when set, carries traffic to the outside of the guest's
	// network namespace (see Outside).
	Outside *Outside
	// Events, when set, is told what the guest's sockets do (events.go).
	Events func(Event)
	// VPorts, when set, is the app's own port space on the host's
	// network (see VirtualPorts).
	VPorts *VirtualPorts
	// ReusePort sets SO_REUSEPORT before each bind of an IPv4/IPv6
	// socket to a port other than 0 (wasi.Config.ReusePort).
	ReusePort bool

	// iov is the hot calls' scratch space for iovecs (see iovecs).
	iov []unix.Iovec
}

// New makes a System whose fds 0-2 are duplicates of stdin, stdout and stderr
// (so a guest closing them cannot close the host's), followed by the preopens
// in order from fd 3. Closing the System closes every descriptor.
func New(stdin, stdout, stderr *os.File, preopens []Preopen) (_ *System, err error) {
	s := &System{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	for i, f := range []*os.File{stdin, stdout, stderr} {
		file, err := stdioFile(f)
		if err != nil {
			return nil, fmt.Errorf("set up fd %d: %w", i, err)
		}
		s.FDs.Insert(file)
	}
	for _, p := range preopens {
		fd, err := unix.Open(p.HostPath, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("open directory %s: %w", p.HostPath, err)
		}
		base, inh := MaxRights(FiletypeDirectory)
		if p.ReadOnly {
			base, inh = base&^RightsMutating, inh&^RightsMutating
		}
		s.FDs.Insert(&File{Fd: fd, Type: FiletypeDirectory, RightsBase: base, RightsInheriting: inh, Preopen: p.GuestPath, ReadOnly: p.ReadOnly})
	}
	return s, nil
}

// stdioFile duplicates f's descriptor for the guest, or opens /dev/null when f
// is nil, and works out what the guest should see it as.
func stdioFile(f *os.File) (*File, error) {
	var fd int
	var err error
	if f == nil {
		fd, err = unix.Open(os.DevNull, unix.O_RDWR|unix.O_CLOEXEC, 0)
	} else {
		fd, err = unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	}
	if err != nil {
		return nil, err
	}
	t, err := HostFiletype(fd)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	base, inh := MaxRights(t)
	if t == FiletypeRegularFile {
		// A redirected stdio file is still used as a stream by the guest.
		base |= RightsStream
	}
	file := &File{Fd: fd, Type: t, RightsBase: base, RightsInheriting: inh, Shared: f != nil}
	if t == FiletypeSocketStream {
		// A socket (inetd, systemd socket activation): a socket like
		// any other for every call, but shared, so its host flags stay
		// as they are (NONBLOCK is emulated, see SetFlags).
		if file.Sock, err = hostSocket(fd); err != nil {
			unix.Close(fd)
			return nil, err
		}
		file.Type = file.Sock.filetype()
	}
	if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err == nil && fl&unix.O_APPEND != 0 {
		file.Flags |= FdflagAppend // e.g. the shell's >>
	}
	return file, nil
}

// HostFiletype reports the preview1 filetype of a host descriptor. Pipes and
// FIFOs have no preview1 type and are reported as unknown, like wasmtime.
func HostFiletype(fd int) (Filetype, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return FiletypeUnknown, err
	}
	return ModeFiletype(uint32(st.Mode)), nil
}

// ModeFiletype converts a stat mode to a preview1 filetype.
func ModeFiletype(mode uint32) Filetype {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return FiletypeRegularFile
	case unix.S_IFDIR:
		return FiletypeDirectory
	case unix.S_IFCHR:
		return FiletypeCharacterDevice
	case unix.S_IFBLK:
		return FiletypeBlockDevice
	case unix.S_IFLNK:
		return FiletypeSymbolicLink
	case unix.S_IFSOCK:
		return FiletypeSocketStream
	}
	return FiletypeUnknown
}

// Lookup returns the open descriptor fd, or EBADF.
func (s *System) Lookup(fd int32) (*File, Errno) {
	f, ok := s.FDs.Lookup(fd)
	if !ok {
		return nil, EBADF
	}
	return f, ESUCCESS
}

// LookupRights returns fd if it carries all rights in r: EBADF when fd is not
// open, EROFS when a right in r would change a read-only file system,
// ENOTCAPABLE when another right is missing.
func (s *System) LookupRights(fd int32, r Rights) (*File, Errno) {
	f, ok := s.FDs.Lookup(fd)
	if !ok {
		return nil, EBADF
	}
	if f.ReadOnly && r&RightsMutating != 0 {
		return nil, EROFS
	}
	if !f.Has(r) {
		return nil, ENOTCAPABLE
	}
	return f, ESUCCESS
}

// CloseFD closes one guest descriptor.
func (s *System) CloseFD(fd int32) Errno {
	f, ok := s.FDs.Delete(fd)
	if !ok {
		return EBADF
	}
	s.releasePorts(f)
	return ErrnoFromError(unix.Close(f.Fd))
}

// Close closes every descriptor the guest still holds.
func (s *System) Close() {
	s.FDs.Range(func(fd int32, f *File) bool {
		s.releasePorts(f)
		unix.Close(f.Fd)
		return true
	})
	s.FDs = Table[File]{}
}
