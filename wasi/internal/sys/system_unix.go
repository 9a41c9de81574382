//go:build linux || darwin

package sys

import (
	"cmp"
	"os"

	"golang.org/x/sys/unix"
)

// openDirectory opens the host directory path for a preopen.
func openDirectory(path string) (*File, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &File{Fd: fd, Type: FiletypeDirectory}, nil
}

// openDirectoryIn opens rel, a directory beneath the host directory outer,
// for a preopen, resolved in outer: a symlink on the way that leads out of
// it is refused (os.Root).
func openDirectoryIn(outer, rel string) (*File, error) {
	root, err := os.OpenRoot(outer)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	d, err := root.Open(rel)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if fi, err := d.Stat(); err != nil || !fi.IsDir() {
		return nil, cmp.Or(err, error(unix.ENOTDIR))
	}
	fd, err := unix.FcntlInt(d.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &File{Fd: fd, Type: FiletypeDirectory}, nil
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
	base, inh := stdioRights(t)
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
