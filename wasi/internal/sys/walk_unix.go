//go:build linux || darwin

package sys

import (
	"strings"

	"golang.org/x/sys/unix"
)

// Path resolution without openat2 (macOS): walkBeneath walks the path one
// component at a time, each an openat with O_NOFOLLOW relative to a
// directory descriptor it holds, as wazero does on systems without
// RESOLVE_BENEATH. So:
//
//   - ".." never goes through the file system: it drops the descriptor of
//     the last directory walked into and goes back to the one before; at
//     the starting directory it is ENOTCAPABLE.
//   - A symlink is never followed by the kernel: its target is read with
//     readlinkat and walked the same way (an absolute target is
//     ENOTCAPABLE), at most maxSymlinks times per walk (then ELOOP).
//   - The last component is acted on with O_NOFOLLOW or AT_SYMLINK_NOFOLLOW
//     in the directory the walk ended in: a symlink swapped in after the
//     walk looked at it makes the call fail (ELOOP), never leave.
//   - No trailing '/' is ever passed to the kernel (it would follow a
//     symlink): a path ending in '/' must end at a directory, checked here.
//
// Directories on the way are opened O_RDONLY (there is no O_PATH): a
// directory without read permission cannot be walked through.
//
// The walk is built on Linux too, where its tests run (walk_unix_test.go);
// there resolveBeneath is openat2.

// walkRetries bounds how often the walk tries a directory again that a
// concurrent rename made look like a symlink.
const walkRetries = 64

// maxSymlinks is how many symlinks one walk follows before ELOOP (Linux's
// limit).
const maxSymlinks = 40

// walk is a walk in progress: the starting directory (not owned) and the
// descriptors of the directories walked into since, the current one last.
type walk struct {
	start int
	dirs  []int
}

func (w *walk) cur() int {
	if len(w.dirs) == 0 {
		return w.start
	}
	return w.dirs[len(w.dirs)-1]
}

// up goes back one directory; false at the starting one.
func (w *walk) up() bool {
	if len(w.dirs) == 0 {
		return false
	}
	unix.Close(w.dirs[len(w.dirs)-1])
	w.dirs = w.dirs[:len(w.dirs)-1]
	return true
}

func (w *walk) close() {
	for _, fd := range w.dirs {
		unix.Close(fd)
	}
	w.dirs = nil
}

// parent returns the current directory with name, closing every other
// descriptor of the walk.
func (w *walk) parent(name string, slash bool) parent {
	if len(w.dirs) == 0 {
		return parent{fd: w.start, name: name, trailingSlash: slash}
	}
	fd := w.dirs[len(w.dirs)-1]
	for _, d := range w.dirs[:len(w.dirs)-1] {
		unix.Close(d)
	}
	w.dirs = nil
	return parent{fd: fd, name: name, owned: true, trailingSlash: slash}
}

// readlink returns the symlink name in dirfd's target, or ok false when name
// is not a symlink (or cannot be read as one).
func readlink(dirfd int, name string) (string, bool) {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK {
		return "", false
	}
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil {
		return "", false
	}
	return string(buf[:n]), true
}

// resolveParent walks path beneath dirfd up to its last component,
// following symlinks on the way, and in the last component too when
// follow is set or the path ends in '/'. It returns the directory holding
// the last component and that component's name, "." when the path ends at
// a directory ("a/..", "a/.", or any path ending in '/', whose directory
// is then opened to check it is one).
func resolveParent(dirfd int, path string, follow bool) (parent, Errno) {
	if errno := checkPath(path); errno != 0 {
		return parent{}, errno
	}
	w := walk{start: dirfd}
	comps := strings.Split(path, "/")
	links := 0
walking:
	for len(comps) > 0 {
		c := comps[0]
		comps = comps[1:]
		last := true
		for _, r := range comps {
			if r != "" {
				last = false
				break
			}
		}
		// slash: the last component is followed by a '/' (in the path or
		// in a symlink's target), so it must be a directory.
		slash := last && len(comps) > 0
		switch c {
		case "", ".":
			if last {
				return w.parent(".", slash), ESUCCESS
			}
			continue
		case "..":
			if !w.up() {
				w.close()
				return parent{}, ENOTCAPABLE
			}
			if last {
				return w.parent(".", slash), ESUCCESS
			}
			continue
		}
		if last && !follow && !slash {
			return w.parent(c, false), ESUCCESS
		}
		// A directory to walk into is opened first: only when that fails
		// as it does on a symlink (ELOOP, or ENOTDIR) is the name read as
		// one, so a plain directory costs one call. A name a concurrent
		// rename turns into a symlink and back can fail the open and be
		// a directory again when read: it is tried again then, as openat2
		// does after EAGAIN.
		for try := 0; ; try++ {
			var openErr error
			if !last || slash {
				fd, err := openatRetry(w.cur(), c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
				if err == nil {
					w.dirs = append(w.dirs, fd)
					if last {
						return w.parent(".", slash), ESUCCESS
					}
					continue walking
				}
				if err != unix.ELOOP && err != unix.ENOTDIR {
					w.close()
					return parent{}, ErrnoFromError(err)
				}
				openErr = err
			}
			if target, ok := readlink(w.cur(), c); ok {
				links++
				switch {
				case links > maxSymlinks:
					w.close()
					return parent{}, ELOOP
				case target == "":
					w.close()
					return parent{}, ENOENT
				case target[0] == '/':
					w.close()
					return parent{}, ENOTCAPABLE
				}
				comps = append(strings.Split(target, "/"), comps...)
				continue walking
			}
			if openErr == nil {
				return w.parent(c, false), ESUCCESS // the last component
			}
			// Not a symlink (now): a directory is tried again, something
			// else gives the open's error, nothing there ENOENT.
			var st unix.Stat_t
			if err := unix.Fstatat(w.cur(), c, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				w.close()
				return parent{}, ErrnoFromError(err)
			}
			if try >= walkRetries || st.Mode&unix.S_IFMT != unix.S_IFDIR {
				w.close()
				return parent{}, ErrnoFromError(openErr)
			}
		}
	}
	return w.parent(".", false), ESUCCESS // not reached: path is not empty
}

// openatRetry is openat with O_CLOEXEC, again after EINTR.
func openatRetry(dirfd int, name string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags|unix.O_CLOEXEC, mode)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// walkBeneath opens path relative to dirfd, walking it with
// resolveParent. flags always gain O_CLOEXEC; mode is used only with
// O_CREAT. O_CREAT|O_EXCL never follows a final symlink (EEXIST), as
// POSIX says.
func walkBeneath(dirfd int, path string, flags int, mode uint32) (int, Errno) {
	follow := flags&unix.O_NOFOLLOW == 0 && flags&(unix.O_CREAT|unix.O_EXCL) != unix.O_CREAT|unix.O_EXCL
	p, errno := resolveParent(dirfd, path, follow)
	if errno != 0 {
		return -1, errno
	}
	defer p.Close()
	fd, err := openatRetry(p.fd, p.name, flags|unix.O_NOFOLLOW, mode)
	if err != nil {
		return -1, ErrnoFromError(err)
	}
	return fd, ESUCCESS
}

// walkKeepSlash checks the POSIX trailing-slash rule without passing the '/' to
// the kernel: what the last component names, if anything, must be a
// directory (ENOTDIR).
func walkKeepSlash(p *parent) Errno {
	var st unix.Stat_t
	if err := unix.Fstatat(p.fd, p.name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return ENOTDIR
	}
	return ESUCCESS
}

// walkAtPathFollow walks path, a final symlink followed, and passes fn the
// directory holding the last component with AT_SYMLINK_NOFOLLOW.
func walkAtPathFollow(dirfd int, path string, fn func(fd int, name string, flags int) error) Errno {
	p, errno := resolveParent(dirfd, path, true)
	if errno != 0 {
		return errno
	}
	defer p.Close()
	return ErrnoFromError(fn(p.fd, p.name, unix.AT_SYMLINK_NOFOLLOW))
}

// walkLinkFollow links oldPath beneath oldDir, a final symlink followed by the
// walk (linkat itself follows nothing), to np.
func walkLinkFollow(oldDir int, oldPath string, np parent) Errno {
	p, errno := resolveParent(oldDir, oldPath, true)
	if errno != 0 {
		return errno
	}
	defer p.Close()
	return ErrnoFromError(unix.Linkat(p.fd, p.name, np.fd, np.name, 0))
}
