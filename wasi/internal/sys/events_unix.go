//go:build linux || darwin

package sys

import "golang.org/x/sys/unix"

// hasPeer reports whether f's socket is connected.
func (f *File) hasPeer() bool {
	_, err := unix.Getpeername(f.Fd)
	return err == nil
}
