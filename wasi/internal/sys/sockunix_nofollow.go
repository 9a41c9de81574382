//go:build darwin || (linux && darwinemul)

package sys

import "golang.org/x/sys/unix"

// On macOS there is no O_PATH, no /proc/self/fd, and no bindat or
// connectat (those are FreeBSD's; XNU has neither), and connect(2) follows
// a symlink in the last component (bind too, creating the socket at a
// dangling symlink's target). So the path is walked beneath the preopen like
// every guest path (walk_unix.go): for bind to the directory that will hold
// the socket, for connect and sendto to the directory holding the socket
// file, a final symlink followed by the walk, beneath the preopen. The
// socket call then names that entry by the directory's identity, with
// symlinks refused by the kernel (entryAddr, sockunix_darwin.go):
//
//	/.nofollow/.vol/<device>/<directory inode>/<name>
//
// "/.vol/D/I" is the directory with inode I on volume D (volfs), which the
// kernel turns into the directory's current path and looks up at once; the
// "/.nofollow/" prefix (macOS 15.4 and later: ENOSYS before) makes that
// lookup refuse any symlink, the last component's included (ELOOP). So:
//
//   - a symlink swapped in for the socket's name, or for any directory on
//     the way, after the walk looked at it makes the call fail, never leave;
//   - a directory renamed inside the preopen meanwhile can only put another
//     directory of the preopen in its place: the lookup, without symlinks
//     and without "..", stays beneath the preopen's own path. Moving the
//     preopen itself, in the instant between the kernel's translation and
//     its lookup, takes write access to its parent: outside the guest's
//     reach, unless another of its preopens holds it (then the lookup stays
//     in that one). Linux's descriptors have no such instant.
//
// The directory descriptor stays open until after the socket call, so its
// inode number cannot be reused meanwhile. volfs needs a volume that finds
// files by id (APFS, HFS+); on others the call fails (ENOENT). The guest's
// path is limited to the 104 bytes of macOS's sun_path (ENAMETOOLONG), and
// so is the host's, 20 to 48 bytes longer than the socket file's name. With
// the darwinemul build tag, Linux runs this code with stand-ins
// (sockunix_emul_linux.go).

// unixSockaddr resolves the guest path p to a host address. For bind
// (target false) the last component must not exist yet; for connect and
// sendto (target true) it is the socket file. The returned func closes what
// was opened; call it after the socket call.
func (s *System) unixSockaddr(p string, target bool) (*unix.SockaddrUnix, func(), Errno) {
	if !haveNofollow() {
		return nil, nil, ENOSYS
	}
	dirfd, rel, name, errno := s.unixPath(p, target)
	if errno != 0 {
		return nil, nil, errno
	}
	var dir parent
	if target {
		dir, errno = resolveParent(dirfd, rel, true)
	} else {
		var fd int
		fd, errno = resolveBeneath(dirfd, rel, oPath|unix.O_DIRECTORY, 0)
		dir = parent{fd: fd, name: name, owned: true}
	}
	if errno != 0 {
		return nil, nil, errno
	}
	if !target {
		// An existing name, a symlink too, is EADDRINUSE as on Linux
		// (macOS's ELOOP only when one is swapped in after this check).
		var st unix.Stat_t
		if unix.Fstatat(dir.fd, dir.name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			dir.Close()
			return nil, nil, EADDRINUSE
		}
	}
	host, closeEntry, errno := entryAddr(dir.fd, dir.name, target)
	if errno != 0 {
		dir.Close()
		return nil, nil, errno
	}
	done := func() {
		closeEntry()
		dir.Close()
	}
	if len(host) >= maxUnixPath {
		done()
		return nil, nil, ENAMETOOLONG
	}
	return &unix.SockaddrUnix{Name: host}, done, ESUCCESS
}
