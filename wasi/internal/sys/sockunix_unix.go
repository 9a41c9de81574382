//go:build linux || darwin

package sys

import (
	"path"
	"strings"
)

// Unix socket paths are the guest's paths, and must stay inside its preopens.
//
// The guest path is matched to a preopened directory: an absolute path to
// the preopen with the longest guest name that is a prefix of it ("/data/s"
// → preopen "/data", name "s"; a "/" preopen matches every absolute path);
// a relative path to the preopen named "." or, failing that, "/" (wasi-libc's
// working directory). No match is ENOTCAPABLE.
//
// The rest of the path is resolved beneath that preopen like every guest
// path (unixSockaddr, per system).

// unixPath checks the guest path p of a Unix socket and finds where it
// lives: the preopen descriptor and the path beneath it. For connect and
// sendto (target true) rel is the socket file's path; for bind (target
// false), which creates the socket file, a read-only preopen is EROFS, rel
// is the parent directory's path and name the last component.
func (s *System) unixPath(p string, target bool) (dirfd int, rel, name string, errno Errno) {
	if p == "" {
		return -1, "", "", EINVAL
	}
	if len(p) >= maxUnixPath {
		return -1, "", "", ENAMETOOLONG
	}
	if strings.IndexByte(p, 0) >= 0 {
		return -1, "", "", EINVAL
	}
	dirfd, rel, errno = s.preopenFor(p)
	if errno != 0 || target {
		return dirfd, rel, "", errno
	}
	if s.readOnlyDir(dirfd) {
		return -1, "", "", EROFS // bind would create the socket file
	}
	dir, name := path.Split(rel)
	if name == "" || name == "." || name == ".." {
		return -1, "", "", EINVAL
	}
	if dir == "" {
		dir = "."
	}
	return dirfd, dir, name, ESUCCESS
}

// preopenFor finds the preopen a guest path lives in and the path relative
// to it.
func (s *System) preopenFor(p string) (dirfd int, rel string, errno Errno) {
	if !strings.HasPrefix(p, "/") {
		if fd, ok := s.preopenNamed("."); ok {
			return fd, p, ESUCCESS
		}
		p = "/" + p
	}
	clean := path.Clean(p)
	best := -1
	bestLen := -1
	s.FDs.Range(func(_ int32, f *File) bool {
		if f.Preopen == "" || f.Type != FiletypeDirectory {
			return true
		}
		g := path.Clean(f.Preopen)
		if !strings.HasPrefix(g, "/") {
			return true
		}
		if g == "/" || clean == g || strings.HasPrefix(clean, g+"/") {
			if len(g) > bestLen {
				best, bestLen = f.Fd, len(g)
			}
		}
		return true
	})
	if best < 0 {
		return -1, "", ENOTCAPABLE
	}
	rel = clean
	if bestLen > 1 {
		rel = clean[bestLen:]
	}
	rel = strings.TrimPrefix(rel, "/")
	if rel == "" {
		rel = "."
	}
	return best, rel, ESUCCESS
}

// readOnlyDir reports whether host descriptor fd is a read-only preopen.
func (s *System) readOnlyDir(fd int) (ro bool) {
	s.FDs.Range(func(_ int32, f *File) bool {
		if f.Fd == fd && f.Preopen != "" {
			ro = f.ReadOnly
			return false
		}
		return true
	})
	return ro
}

func (s *System) preopenNamed(name string) (int, bool) {
	fd := -1
	s.FDs.Range(func(_ int32, f *File) bool {
		if f.Preopen != "" && f.Type == FiletypeDirectory && path.Clean(f.Preopen) == name {
			fd = f.Fd
			return false
		}
		return true
	})
	return fd, fd >= 0
}

// guestPathOf returns the guest's name for a host path inside one of its
// preopens (a peer bound by another program in a shared directory), or ""
// when the path is outside them all.
func (s *System) guestPathOf(host string) string {
	if !strings.HasPrefix(host, "/") {
		return ""
	}
	guest, best := "", -1
	s.FDs.Range(func(_ int32, f *File) bool {
		if f.Preopen == "" || f.Type != FiletypeDirectory {
			return true
		}
		dir, err := fdPath(f.Fd)
		if err != nil || len(dir) <= best {
			return true
		}
		rel, ok := strings.TrimPrefix(host, "/"), true
		if dir != "/" {
			rel, ok = strings.CutPrefix(host, dir+"/")
		}
		if ok {
			// The deepest preopen holding the path names it.
			guest, best = path.Join(f.Preopen, rel), len(dir)
		}
		return true
	})
	return guest
}
