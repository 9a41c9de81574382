//go:build linux || darwin

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/wasmrun/wasmrun/internal/trust"
)

// processAlive reports whether process pid exists.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := unix.Kill(pid, 0)
	return err == nil || err == unix.EPERM
}

// terminate asks process pid to end (SIGTERM).
func terminate(pid int) error { return unix.Kill(pid, unix.SIGTERM) }

// kill ends process pid (SIGKILL).
func kill(pid int) { unix.Kill(pid, unix.SIGKILL) }

// openConfig opens a config file for reading without blocking on a FIFO,
// and without following a link as its last component unless follow.
func openConfig(path string, noFollow bool) (*os.File, error) {
	flags := os.O_RDONLY | syscall.O_NONBLOCK
	if noFollow {
		flags |= syscall.O_NOFOLLOW
	}
	f, err := os.OpenFile(path, flags, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, errors.New("a link: an app directory's config is read only as a file of its own (name it with --config to follow it)")
	}
	return f, err
}

// fileOwner returns the owner of what fi describes.
func fileOwner(fi os.FileInfo) (uid, gid uint32, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return st.Uid, st.Gid, true
}

func modeAllows(path string, u specs.User, want uint32) bool {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return false
	}
	mode := uint32(st.Mode) // uint16 on macOS
	bits := mode & 7        // others
	switch {
	case st.Uid == u.UID:
		bits = mode >> 6 & 7
	case st.Gid == u.GID:
		bits = mode >> 3 & 7
	}
	return bits&want == want
}

// createOutput opens path for writing, created (0644) or truncated, as
// --trace=FILE does, refusing a place someone else could have prepared for
// it: the directory must be one nobody but the caller and root can change
// the way to (package trust: no other user's directory or link on it, so
// root's wasmrun is not led through a link into a file of its own), or a
// sticky directory anyone can write (/tmp) in such a place, where a link
// or another user's file is refused (the kernel follows a link there
// where fs.protected_symlinks is off). Elsewhere the last name may be a
// link (/dev/stderr).
func createOutput(path string) (*os.File, error) {
	flags := os.O_WRONLY | os.O_CREATE | syscall.O_NONBLOCK
	if slices.Contains(strings.Split(path, "/"), "..") {
		// The kernel goes up from where a link on the way leads; the
		// checks below would judge the directory the spelling names.
		return nil, errors.New("a path with .. in it is not followed: name the file by a path without it")
	}
	dirPath := filepath.Dir(path)
	var dir unix.Stat_t
	if err := unix.Lstat(dirPath, &dir); err != nil {
		return nil, err
	}
	shared := dir.Mode&unix.S_IFMT == unix.S_IFDIR && dir.Mode&unix.S_ISVTX != 0 && dir.Mode&0o002 != 0 &&
		(dir.Uid == 0 || int(dir.Uid) == os.Geteuid()) // its owner could swap it for a link
	if shared {
		if err := trust.Path(filepath.Dir(dirPath)); err != nil {
			return nil, fmt.Errorf("%s: %w", dirPath, err)
		}
		flags |= syscall.O_NOFOLLOW
	} else if err := trust.Path(dirPath); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if fi, lerr := os.Lstat(path); err != nil && shared && lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
		// ELOOP, or EACCES from a sticky directory's rules.
		return nil, fmt.Errorf("%s is a link in a directory anyone can write: it may be another user's, leading anywhere (write elsewhere)", path)
	}
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, err
	}
	if shared && st.Uid != uint32(os.Geteuid()) && st.Uid != dir.Uid {
		f.Close()
		return nil, fmt.Errorf("%s is another user's file (uid %d) in a directory anyone can write (remove it or write elsewhere)", path, st.Uid)
	}
	if shared && st.Nlink > 1 {
		// Another user's hard link to a file of ours (where
		// fs.protected_hardlinks is off).
		f.Close()
		return nil, fmt.Errorf("%s has other names (%d links) in a directory anyone can write (remove it or write elsewhere)", path, st.Nlink)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFREG {
		if err := f.Truncate(0); err != nil {
			f.Close()
			return nil, err
		}
	}
	if err := unix.SetNonblock(int(f.Fd()), false); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
