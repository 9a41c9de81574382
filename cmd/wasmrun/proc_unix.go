//go:build linux || darwin

package main

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	specs "github.com/opencontainers/runtime-spec/specs-go"
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

// fileOwner returns the owner of what fi describes.
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
