package sys

import (
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Unix socket paths are the guest's paths, and must stay inside its preopens.
//
// The guest path is matched to a preopened directory: an absolute path to
// the preopen with the longest guest name that is a prefix of it ("/data/s"
// → preopen "/data", name "s"; a "/" preopen matches every absolute path);
// a relative path to the preopen named "." or, failing that, "/" (wasi-libc's
// working directory). No match is ENOTCAPABLE.
//
// The rest of the path is resolved beneath that preopen with openat2 and
// RESOLVE_BENEATH, so ".." and symlinks cannot leave it (EXDEV from the
// kernel becomes ENOTCAPABLE). The socket call itself then uses the path
// "/proc/self/fd/N/name" (bind: N is the parent directory) or
// "/proc/self/fd/N" (connect, sendto: N is an O_PATH descriptor of the
// socket file itself, so a final symlink cannot point outside either). These
// paths are short, so a deep guest path still fits in the 108 bytes of
// sun_path; the guest's own path is limited to 108 bytes too, as natively
// (ENAMETOOLONG). Requires /proc, which every Linux container has.

// maxUnixPath is the size of sun_path including its terminating NUL.
const maxUnixPath = 108

// unixSockaddr resolves the guest path p to a host address. For bind
// (target false) the last component must not exist yet and only its parent
// is opened; for connect and sendto (target true) the socket file is opened.
// The returned func closes what was opened; call it after the socket call.
func (s *System) unixSockaddr(p string, target bool) (*unix.SockaddrUnix, func(), Errno) {
	if p == "" {
		return nil, nil, EINVAL
	}
	if len(p) >= maxUnixPath {
		return nil, nil, ENAMETOOLONG
	}
	if strings.IndexByte(p, 0) >= 0 {
		return nil, nil, EINVAL
	}
	dirfd, rel, errno := s.preopenFor(p)
	if errno != 0 {
		return nil, nil, errno
	}
	if target {
		fd, errno := resolveBeneath(dirfd, rel, unix.O_PATH, 0)
		if errno != 0 {
			return nil, nil, errno
		}
		return &unix.SockaddrUnix{Name: "/proc/self/fd/" + strconv.Itoa(fd)}, func() { unix.Close(fd) }, ESUCCESS
	}
	if s.readOnlyDir(dirfd) {
		return nil, nil, EROFS // bind would create the socket file
	}
	dir, name := path.Split(rel)
	if name == "" || name == "." || name == ".." {
		return nil, nil, EINVAL
	}
	if dir == "" {
		dir = "."
	}
	fd, errno := resolveBeneath(dirfd, dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if errno != 0 {
		return nil, nil, errno
	}
	host := "/proc/self/fd/" + strconv.Itoa(fd) + "/" + name
	if len(host) >= maxUnixPath {
		unix.Close(fd)
		return nil, nil, ENAMETOOLONG
	}
	return &unix.SockaddrUnix{Name: host}, func() { unix.Close(fd) }, ESUCCESS
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
		dir, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(f.Fd))
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
