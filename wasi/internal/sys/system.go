// Package sys is the system layer under wasmrun's WASI host module: a table
// of guest descriptors backed by real host descriptors, and the operations on
// them (files, directories, sockets, polling), in plain Go.
//
// It never touches guest memory and knows nothing of wazero: every operation
// takes Go values and returns an Errno. The ABI layer in package wasi decodes
// guest memory into those values and writes results back.
//
// The code is portable where it can be; what calls the host is per system:
// *_unix.go for Linux and macOS (*_linux.go, *_darwin.go where they
// differ), *_windows.go for Windows, whose backend keeps directories on
// os.Root, files on os.File and sockets on Winsock (system_windows.go says
// what differs there).
package sys

import (
	"fmt"
	"os"

	"github.com/wasmrun/wasmrun/internal/nest"
)

// Preopen is a host directory the guest sees under GuestPath.
type Preopen struct {
	HostPath  string
	GuestPath string
	// ReadOnly: nothing beneath it may be changed (EROFS), and its files
	// are opened read-only on the host.
	ReadOnly bool
	// Opened, when set, judges the directory as opened (its host
	// descriptor) before the guest gets it; an error fails New.
	Opened func(fd int) error
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
	iov []iovec
	// dirBytes is what the directory snapshots of open descriptors take
	// (see Readdir).
	dirBytes int64
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
	s.forget(f)
	return ErrnoFromError(f.closeHost())
}

// forget lets go of what the system keeps for f, a descriptor the guest
// closes: its virtual ports, its directory snapshot.
func (s *System) forget(f *File) {
	s.releasePorts(f)
	s.dropDir(f)
}

// Close closes every descriptor the guest still holds.
func (s *System) Close() {
	s.FDs.Range(func(fd int32, f *File) bool {
		s.forget(f)
		f.closeHost()
		return true
	})
	s.FDs = Table[File]{}
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
	hostPaths := make([]string, len(preopens))
	for i, p := range preopens {
		hostPaths[i] = p.HostPath
	}
	for i, p := range preopens {
		var f *File
		var err error
		if outer, rel := nest.Within(hostPaths, i); outer != "" {
			// Beneath another preopen, the guest may have put a link on
			// the way (in an earlier run, or another guest sharing it):
			// resolved there, it never leads out.
			if f, err = openDirectoryIn(outer, rel); err != nil {
				return nil, fmt.Errorf("open directory %s within %s, another of the guest's directories: it is missing, or a link on the way leads out of %s or is absolute (a guest may have put it there; give the real path): %w", p.HostPath, outer, outer, err)
			}
		} else if f, err = openDirectory(p.HostPath); err != nil {
			return nil, fmt.Errorf("open directory %s: %w", p.HostPath, err)
		}
		if p.Opened != nil {
			if err := p.Opened(f.Fd); err != nil {
				f.closeHost()
				return nil, err
			}
		}
		base, inh := MaxRights(FiletypeDirectory)
		if p.ReadOnly {
			base, inh = base&^RightsMutating, inh&^RightsMutating
		}
		f.RightsBase, f.RightsInheriting, f.Preopen, f.ReadOnly = base, inh, p.GuestPath, p.ReadOnly
		s.FDs.Insert(f)
	}
	return s, nil
}
