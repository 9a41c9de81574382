package oci

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// openModule opens m, a module ResolveModule found in root, for the
// container process to read: resolved again in root by the kernel
// (RESOLVE_IN_ROOT), with no link followed (m's path has none left), not
// blocking, a regular file. Its reader, as root, is then sure to read the
// file that was checked: a guest of a running container that swapped a
// directory on the path for a link (an exec of its module) gets an error,
// never a file of the host.
func openModule(root string, m Module) (*os.File, error) {
	root = filepath.Clean(root)
	rel, err := filepath.Rel(root, m.HostPath)
	if err != nil || !filepath.IsLocal(rel) {
		return nil, fmt.Errorf("module %s: not in the container root", m.GuestPath)
	}
	rfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("container root %s: %w", root, err)
	}
	defer unix.Close(rfd)
	fd, err := unix.Openat2(rfd, rel, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, fmt.Errorf("module %s in the container root: %w", m.GuestPath, err)
	}
	f := os.NewFile(uintptr(fd), m.HostPath)
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("module %s in the container root is not a regular file", m.GuestPath)
	}
	return f, nil
}
