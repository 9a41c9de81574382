package sys

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// The Windows backend of the system layer.
//
// A guest descriptor is backed by what Windows has instead of descriptors:
//   - a directory by an *os.Root (File.host.root): every path beneath it is
//     resolved by os.Root, which refuses any path that would leave it
//     ("..", absolute and volume paths, symlinks pointing outside, reserved
//     device names), so a guest path can never leave its preopen; and by
//     an *os.File of the directory itself (host.file) for stat and readdir;
//   - a regular file, stdio, a pipe or the console by an *os.File;
//   - a socket by a Winsock SOCKET, kept in File.Fd like a descriptor.
//
// What differs from Linux, each said where it is done:
//   - waiting: WSAPoll for sockets; pipes and the console on stdio are
//     looked at every 10 ms during a wait; anything else is always ready
//     (poll_windows.go, stream_windows.go);
//   - paths: Windows takes '\' as a separator; renames and links work
//     within one preopen (EXDEV across two); symlinks need the privilege
//     to make them (EPERM without); a symlink's own times cannot be set
//     (ENOTSUP); times have 100 ns precision; fd_readdir gives no inode
//     numbers (path_windows.go);
//   - sockets: no Unix sockets (EAFNOSUPPORT), no SO_REUSEPORT,
//     SO_REUSEADDR only recorded (socket_windows.go, sockopt_windows.go);
//   - signals: SIGINT and SIGTERM only (signal_windows.go);
//   - epoll_oneoff: edge triggering emulated over WSAPoll, as on macOS
//     (epoll_emul.go);
//   - not there: network namespaces (Outside).

// fileHost is what a File holds of the host besides Fd.
type fileHost struct {
	// file is the open file (nil for a socket).
	file *os.File
	// kind tells pipes and consoles, which need asking whether they are
	// ready (stream_windows.go), from the rest.
	kind hostKind
	// root is a directory's own root, beneath which its paths resolve.
	root *os.Root
	// top is the root of the preopen a directory is beneath, and rel its
	// path there ("" when not known), for renames and links between two
	// directories (os.Root works within one root).
	top *topRoot
	rel string
}

// topRoot is a preopen's root, shared by the directories beneath it and
// closed with the last of them.
type topRoot struct {
	root *os.Root
	refs int
}

func (t *topRoot) hold() *topRoot {
	t.refs++
	return t
}

func (t *topRoot) release() error {
	if t.refs--; t.refs == 0 {
		return t.root.Close()
	}
	return nil
}

// iovec is Winsock's WSABUF (System.iov).
type iovec = windows.WSABuf

// closeHost closes what backs f.
func (f *File) closeHost() error {
	var errs []error
	if f.Sock != nil {
		errs = append(errs, windows.Closesocket(windows.Handle(f.Fd)))
	}
	if f.host.file != nil {
		errs = append(errs, f.host.file.Close())
	}
	if f.host.root != nil {
		errs = append(errs, f.host.root.Close())
	}
	if f.host.top != nil {
		errs = append(errs, f.host.top.release())
	}
	return errors.Join(errs...)
}

// closeFD closes a handle of the system's own.
func closeFD(fd int) error { return windows.CloseHandle(windows.Handle(fd)) }

// retry runs fn once: Windows calls are not interrupted by signals.
func retry(fn func() error) error { return fn() }

// openDirectory opens the host directory path as a preopen's File.
func openDirectory(path string) (*File, error) {
	root, err := os.OpenRoot(path)
	if err != nil {
		return nil, err
	}
	return rootDirectory(root)
}

// openDirectoryIn opens rel, a directory beneath the host directory outer,
// for a preopen, resolved in outer: a link on the way that leads out of
// it is refused (os.Root).
func openDirectoryIn(outer, rel string) (*File, error) {
	top, err := os.OpenRoot(outer)
	if err != nil {
		return nil, err
	}
	defer top.Close()
	root, err := top.OpenRoot(rel)
	if err != nil {
		return nil, err
	}
	return rootDirectory(root)
}

// rootDirectory makes a preopen's File of root, which it takes.
func rootDirectory(root *os.Root) (*File, error) {
	f, err := rootFile(root)
	if err == nil {
		var top *os.Root
		if top, err = root.OpenRoot("."); err == nil {
			f.host.top, f.host.rel = (&topRoot{root: top}).hold(), "."
			return f, nil
		}
		f.closeHost()
	} else {
		root.Close()
	}
	return nil, err
}

// rootFile makes the File of a directory from its root: it opens the
// directory itself too, for stat and readdir.
func rootFile(root *os.Root) (*File, error) {
	d, err := root.Open(".")
	if err != nil {
		return nil, err
	}
	f := &File{Fd: -1, Type: FiletypeDirectory}
	f.host.root, f.host.file = root, d
	return f, nil
}

// stdioFile duplicates f's handle for the guest, or opens NUL when f is
// nil, and works out what the guest should see it as: the console is a
// character device, a disk file a regular file (used as a stream), a pipe
// unknown (as on Linux).
func stdioFile(f *os.File) (*File, error) {
	var file *os.File
	if f == nil {
		var err error
		if file, err = os.OpenFile(os.DevNull, os.O_RDWR, 0); err != nil {
			return nil, err
		}
	} else {
		p := windows.CurrentProcess()
		var h windows.Handle
		if err := windows.DuplicateHandle(p, windows.Handle(f.Fd()), p, &h, 0, false, windows.DUPLICATE_SAME_ACCESS); err != nil {
			return nil, &os.SyscallError{Syscall: "DuplicateHandle", Err: err}
		}
		file = os.NewFile(uintptr(h), f.Name())
	}
	t := handleFiletype(windows.Handle(file.Fd()))
	base, inh := stdioRights(t)
	out := &File{Fd: -1, Type: t, RightsBase: base, RightsInheriting: inh, Shared: f != nil}
	out.host.file, out.host.kind = file, handleKind(windows.Handle(file.Fd()))
	return out, nil
}

// handleFiletype reports the preview1 filetype of an open handle.
func handleFiletype(h windows.Handle) Filetype {
	t, err := windows.GetFileType(h)
	if err != nil {
		return FiletypeUnknown
	}
	switch t {
	case windows.FILE_TYPE_CHAR:
		return FiletypeCharacterDevice
	case windows.FILE_TYPE_DISK:
		var info windows.ByHandleFileInformation
		if windows.GetFileInformationByHandle(h, &info) == nil && info.FileAttributes&windows.FILE_ATTRIBUTE_DIRECTORY != 0 {
			return FiletypeDirectory
		}
		return FiletypeRegularFile
	}
	return FiletypeUnknown
}
