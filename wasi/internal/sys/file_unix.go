//go:build linux || darwin

package sys

import "golang.org/x/sys/unix"

// fileHost is empty here: a File is its host descriptor Fd.
type fileHost struct{}

// iovec is the host's struct iovec (System.iov).
type iovec = unix.Iovec

// closeHost closes f's host descriptor.
func (f *File) closeHost() error { return unix.Close(f.Fd) }

// closeFD closes a host descriptor of the system's own (epoll, pipes).
func closeFD(fd int) error { return unix.Close(fd) }
