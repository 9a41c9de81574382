package initproc

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Read-only, enforced by the kernel. The WASI layer refuses every mutating
// call beneath a read-only preopen (EROFS) and opens its files read-only;
// the container process also gets a mount namespace of its own in which
// those directories are read-only bind mounts (recursively), so a bug in
// the WASI layer is still no write. linux.readonlyPaths get the same, and
// linux.maskedPaths are hidden: an empty read-only tmpfs over a directory,
// /dev/null over a file. Nothing of this propagates to the host.

// Mounts are what the container process mounts in its namespace, host
// paths all.
type Mounts struct {
	ReadOnly []string `json:"read_only,omitempty"`
	Masked   []string `json:"masked,omitempty"`
}

// Empty reports whether there is nothing to mount (no mount namespace
// then: it costs a copy of the mount table).
func (m *Mounts) Empty() bool { return m == nil || len(m.ReadOnly)+len(m.Masked) == 0 }

// setup runs in the container process, in its own mount namespace, before
// anything opens a preopen.
func (m *Mounts) setup() error {
	if m.Empty() {
		return nil
	}
	// Nothing done here reaches the host's mount namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	for _, p := range m.ReadOnly {
		if err := bindReadOnly(p); err != nil {
			return err
		}
	}
	for _, p := range m.Masked {
		if err := mask(p); err != nil {
			return err
		}
	}
	return nil
}

// bindReadOnly bind-mounts p on itself, with every mount beneath it, and
// makes all of them read-only.
func bindReadOnly(p string) error {
	if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("read-only %s: bind: %w", p, err)
	}
	err := unix.MountSetattr(unix.AT_FDCWD, p, unix.AT_RECURSIVE|unix.AT_SYMLINK_NOFOLLOW,
		&unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY})
	if err != nil {
		return fmt.Errorf("read-only %s: %w", p, err)
	}
	return nil
}

// mask hides p: an empty read-only tmpfs over a directory, /dev/null over
// anything else.
func mask(p string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	if fi.IsDir() {
		err = unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0")
	} else {
		err = unix.Mount("/dev/null", p, "", unix.MS_BIND, "")
	}
	if err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	return nil
}
