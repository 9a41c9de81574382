package sys

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Path resolution on Windows is os.Root's: every path is resolved beneath
// the directory's root, and a path that would leave it ("..", a symlink
// pointing outside, an absolute or volume path, a reserved device name
// such as NUL) is refused: ENOTCAPABLE, as on Linux. Windows also takes
// '\' as a separator, so a guest cannot name a file with a backslash in
// it. Without LookupSymlinkFollow, a final symlink is seen with Lstat
// first (os.Root has no O_NOFOLLOW): that check and the open are two
// steps, but whatever is swapped in between is still resolved beneath
// the root.

// Open opens a file beneath a directory and returns the new guest fd,
// with the rights Linux's Open gives (see path_unix.go). A directory is
// opened as a root of its own. APPEND is emulated by Write (so that
// Pwrite can still write at an offset), and NONBLOCK is only recorded.
func (s *System) Open(req OpenRequest) (int32, Errno) {
	dir, read, write, errno := s.openDir(req)
	if errno != 0 {
		return -1, errno
	}
	if errno := checkPath(req.Path); errno != 0 {
		return -1, errno
	}
	root, name := dir.host.root, req.Path
	creat, excl := req.Oflags&OflagCreat != 0, req.Oflags&OflagExcl != 0
	fi, err := root.Lstat(name)
	exists := err == nil
	if exists && fi.Mode()&fs.ModeSymlink != 0 {
		switch {
		case creat && excl:
			return -1, EEXIST
		case req.Lookup&LookupSymlinkFollow == 0:
			return -1, ELOOP
		}
		fi, err = root.Stat(name)
		exists = err == nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return -1, fileErrno(err)
	}
	if exists && creat && excl {
		return -1, EEXIST
	}

	var f *File
	if exists && fi.IsDir() {
		if write || creat || req.Oflags&OflagTrunc != 0 {
			return -1, EISDIR
		}
		sub, err := root.OpenRoot(name)
		if err != nil {
			return -1, fileErrno(err)
		}
		if f, err = rootFile(sub); err != nil {
			sub.Close()
			return -1, fileErrno(err)
		}
		nf := opened(dir, req, FiletypeDirectory, read, write)
		nf.host = f.host
		f = nf
		if dir.host.top != nil {
			f.host.top, f.host.rel = dir.host.top.hold(), beneath(dir.host.rel, name)
		}
		return s.FDs.Insert(f), ESUCCESS
	}
	switch {
	case req.Oflags&OflagDirectory != 0 && exists:
		return -1, ENOTDIR
	case req.Oflags&OflagDirectory != 0:
		return -1, ENOENT
	case strings.HasSuffix(name, "/") && exists:
		return -1, ENOTDIR
	case strings.HasSuffix(name, "/") && creat:
		return -1, EISDIR
	}
	flags := os.O_RDONLY
	switch {
	case read && write:
		flags = os.O_RDWR
	case write:
		flags = os.O_WRONLY
	}
	if creat {
		flags |= os.O_CREATE
	}
	if excl {
		flags |= os.O_EXCL
	}
	if req.Oflags&OflagTrunc != 0 {
		flags |= os.O_TRUNC
		if !write {
			// Windows truncates only with write access; the guest
			// still gets no FD_WRITE.
			flags = flags&^os.O_RDONLY | os.O_RDWR
		}
	}
	file, err := root.OpenFile(name, flags, 0o666)
	if err != nil {
		return -1, fileErrno(err)
	}
	f = opened(dir, req, handleFiletype(windows.Handle(file.Fd())), read, write)
	f.Fd, f.host.file = -1, file
	return s.FDs.Insert(f), ESUCCESS
}

// beneath is the path of name beneath rel within their preopen, or ""
// when rel is not known or name may leave rel (it starts with "..").
func beneath(rel, name string) string {
	if rel == "" {
		return ""
	}
	name = path.Clean(strings.ReplaceAll(name, `\`, "/"))
	if name == ".." || strings.HasPrefix(name, "../") {
		return ""
	}
	return path.Join(rel, name)
}

// atRoot runs fn on path beneath the directory dirfd carrying right r.
func (s *System) atRoot(dirfd int32, r Rights, name string, fn func(root *os.Root, name string) error) Errno {
	d, errno := s.dirFile(dirfd, r)
	if errno != 0 {
		return errno
	}
	if errno := checkPath(name); errno != 0 {
		return errno
	}
	return fileErrno(fn(d.host.root, name))
}

// CreateDirectory makes a directory.
func (s *System) CreateDirectory(dirfd int32, path string) Errno {
	return s.atRoot(dirfd, RightPathCreateDirectory, path, func(root *os.Root, name string) error {
		return root.Mkdir(name, 0o777)
	})
}

// RemoveDirectory removes an empty directory; anything else is ENOTDIR.
func (s *System) RemoveDirectory(dirfd int32, path string) Errno {
	return s.atRoot(dirfd, RightPathRemoveDirectory, path, func(root *os.Root, name string) error {
		fi, err := root.Lstat(name)
		if err != nil {
			return err
		}
		if !fi.IsDir() || fi.Mode()&fs.ModeSymlink != 0 {
			return ENOTDIR
		}
		return rootRemove(root, name)
	})
}

// UnlinkFile removes a non-directory; a directory is EISDIR.
func (s *System) UnlinkFile(dirfd int32, path string) Errno {
	return s.atRoot(dirfd, RightPathUnlinkFile, path, func(root *os.Root, name string) error {
		fi, err := root.Lstat(name)
		if err != nil {
			return err
		}
		if fi.IsDir() && fi.Mode()&fs.ModeSymlink == 0 {
			return EISDIR
		}
		if strings.HasSuffix(name, "/") {
			return ENOTDIR
		}
		return rootRemove(root, name)
	})
}

// Symlink creates a symlink at path holding target. Windows lets only
// privileged users (or developer mode) make symlinks: EPERM otherwise.
func (s *System) Symlink(target string, dirfd int32, path string) Errno {
	if target == "" {
		return ENOENT
	}
	if strings.IndexByte(target, 0) >= 0 {
		return EINVAL
	}
	return s.atRoot(dirfd, RightPathSymlink, path, func(root *os.Root, name string) error {
		return root.Symlink(target, name)
	})
}

// Readlink reads the target of the symlink at path into buf (with '/'
// separators) and returns how many bytes it copied; a longer target is
// truncated to len(buf).
func (s *System) Readlink(dirfd int32, path string, buf []byte) (n int, errno Errno) {
	errno = s.atRoot(dirfd, RightPathReadlink, path, func(root *os.Root, name string) error {
		t, err := root.Readlink(name)
		if err != nil {
			return err
		}
		n = copy(buf, strings.ReplaceAll(t, `\`, "/"))
		return nil
	})
	return n, errno
}

// Rename moves oldPath beneath oldDir to newPath beneath newDir. Both
// are resolved in one root: the directory's own when they are the same,
// otherwise their preopen's, when they are beneath the same one and
// neither path starts with ".."; else EXDEV (os.Root renames within a
// root only).
func (s *System) Rename(oldDir int32, oldPath string, newDir int32, newPath string) Errno {
	od, nd, errno := s.dirPair(oldDir, RightPathRenameSource, newDir, RightPathRenameTarget)
	if errno != 0 {
		return errno
	}
	root, o, n, errno := commonRoot(od, oldPath, nd, newPath)
	if errno != 0 {
		return errno
	}
	if fi, err := root.Lstat(n); err == nil && fi.IsDir() && fi.Mode()&fs.ModeSymlink == 0 {
		// POSIX replaces an empty directory; Windows refuses.
		if ofi, err := root.Lstat(o); err == nil && ofi.IsDir() {
			if err := rootRemove(root, n); err != nil {
				return fileErrno(err)
			}
		} else if err == nil {
			return EISDIR
		}
	}
	return fileErrno(root.Rename(o, n))
}

// commonRoot finds one root for two paths beneath two directories (see
// Rename).
func commonRoot(od *File, oldPath string, nd *File, newPath string) (*os.Root, string, string, Errno) {
	if errno := checkPath(oldPath); errno != 0 {
		return nil, "", "", errno
	}
	if errno := checkPath(newPath); errno != 0 {
		return nil, "", "", errno
	}
	if od == nd {
		return od.host.root, oldPath, newPath, ESUCCESS
	}
	if od.host.top == nil || od.host.top != nd.host.top {
		return nil, "", "", EXDEV
	}
	o, n := beneath(od.host.rel, oldPath), beneath(nd.host.rel, newPath)
	if o == "" || n == "" {
		return nil, "", "", EXDEV
	}
	return od.host.top.root, o, n, ESUCCESS
}

// Link makes newPath beneath newDir a hard link to oldPath beneath oldDir
// (in one root, as Rename). A symlink is linked itself; with
// LookupSymlinkFollow a final symlink is ENOTSUP here.
func (s *System) Link(oldDir int32, lookup Lookupflags, oldPath string, newDir int32, newPath string) Errno {
	od, nd, errno := s.dirPair(oldDir, RightPathLinkSource, newDir, RightPathLinkTarget)
	if errno != 0 {
		return errno
	}
	if lookup&^LookupSymlinkFollow != 0 {
		return EINVAL
	}
	root, o, n, errno := commonRoot(od, oldPath, nd, newPath)
	if errno != 0 {
		return errno
	}
	fi, err := root.Lstat(o)
	if err != nil {
		return fileErrno(err)
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0 && lookup&LookupSymlinkFollow != 0:
		return ENOTSUP
	case fi.IsDir():
		return EPERM
	}
	return fileErrno(root.Link(o, n))
}

// PathFilestat stats path beneath dirfd; with LookupSymlinkFollow a final
// symlink is followed (beneath dirfd), otherwise the link itself is
// stat'ed (without device and inode, which Windows gives only for an
// open file).
func (s *System) PathFilestat(dirfd int32, lookup Lookupflags, path string) (Filestat, Errno) {
	var st Filestat
	if lookup&^LookupSymlinkFollow != 0 {
		return st, EINVAL
	}
	errno := s.atRoot(dirfd, RightPathFilestatGet, path, func(root *os.Root, name string) error {
		if lookup&LookupSymlinkFollow == 0 {
			fi, err := root.Lstat(name)
			if err != nil {
				return err
			}
			if fi.Mode()&fs.ModeSymlink != 0 {
				st = infoFilestat(fi)
				return nil
			}
		}
		f, err := root.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		var errno Errno
		st, errno = handleFilestat(windows.Handle(f.Fd()))
		if errno != 0 {
			return errno
		}
		return nil
	})
	return st, errno
}

// PathSetTimes sets the access and modification times of path beneath
// dirfd. Setting a symlink's own times is ENOTSUP here.
func (s *System) PathSetTimes(dirfd int32, lookup Lookupflags, path string, atim, mtim uint64, fst Fstflags) Errno {
	if lookup&^LookupSymlinkFollow != 0 {
		return EINVAL
	}
	a, m, errno := filetimes(atim, mtim, fst)
	if errno != 0 {
		return errno
	}
	return s.atRoot(dirfd, RightPathFilestatSetTimes, path, func(root *os.Root, name string) error {
		if lookup&LookupSymlinkFollow == 0 {
			if fi, err := root.Lstat(name); err != nil {
				return err
			} else if fi.Mode()&fs.ModeSymlink != 0 {
				return ENOTSUP
			}
		}
		return root.Chtimes(name, filetimeTime(a), filetimeTime(m))
	})
}

// filetimeTime converts a SetFileTime time to Chtimes's (the zero time
// leaves it unchanged).
func filetimeTime(t *windows.Filetime) time.Time {
	if t == nil {
		return time.Time{}
	}
	return time.Unix(0, t.Nanoseconds())
}

// Readdir's host side: every entry of the directory, read through a new
// handle of it (so the guest's descriptor does not matter), after "." and
// "..". Windows gives no inode numbers when listing: Ino is 0.
func (f *File) readDir() ([]Dirent, Errno) {
	d, err := f.host.root.Open(".")
	if err != nil {
		return nil, fileErrno(err)
	}
	defer d.Close()
	list, err := d.ReadDir(-1)
	if err != nil {
		return nil, fileErrno(err)
	}
	entries := make([]Dirent, 0, len(list)+2)
	entries = append(entries, Dirent{Name: ".", Type: FiletypeDirectory}, Dirent{Name: "..", Type: FiletypeDirectory})
	for _, e := range list {
		entries = append(entries, Dirent{Name: e.Name(), Type: modeFiletype(e.Type())})
	}
	return entries, ESUCCESS
}

// rootRemove is root.Remove(name), with a fallback for Wine: Go removes
// with FILE_DISPOSITION_INFORMATION_EX (POSIX semantics), which Wine 8
// answers with ERROR_INVALID_FUNCTION, a status Go does not fall back on.
// The fallback opens the parent through root and deletes the last
// component, a single name relative to the parent's handle (so it cannot
// leave root either), the classic way (FileDispositionInfo).
func rootRemove(root *os.Root, name string) error {
	err := root.Remove(name)
	var errno syscall.Errno
	if !errors.As(err, &errno) || errno != windows.ERROR_INVALID_FUNCTION {
		return err
	}
	dir, base := path.Split(strings.TrimRight(strings.ReplaceAll(name, `\`, "/"), "/"))
	if base == "" || base == "." || base == ".." || strings.ContainsRune(base, ':') {
		return err
	}
	if dir == "" {
		dir = "."
	}
	parent, perr := root.Open(dir)
	if perr != nil {
		return perr
	}
	defer parent.Close()
	nt, nerr := windows.NewNTUnicodeString(base)
	if nerr != nil {
		return err
	}
	oa := windows.OBJECT_ATTRIBUTES{RootDirectory: windows.Handle(parent.Fd()), ObjectName: nt, Attributes: windows.OBJ_CASE_INSENSITIVE}
	oa.Length = uint32(unsafe.Sizeof(oa))
	var h windows.Handle
	var iosb windows.IO_STATUS_BLOCK
	if st := windows.NtCreateFile(&h, windows.DELETE|windows.FILE_READ_ATTRIBUTES, &oa, &iosb, nil, 0,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE, windows.FILE_OPEN,
		windows.FILE_OPEN_REPARSE_POINT|windows.FILE_OPEN_FOR_BACKUP_INTENT, 0, 0); st != nil {
		if ns, ok := st.(windows.NTStatus); ok {
			return ns.Errno()
		}
		return st
	}
	defer windows.CloseHandle(h)
	del := byte(1)
	return windows.SetFileInformationByHandle(h, windows.FileDispositionInfo, &del, 1)
}
