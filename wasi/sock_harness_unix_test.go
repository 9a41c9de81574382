//go:build linux || darwin

package wasi

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// hostPort is the port f's host socket is bound to.
func hostPort(f *sys.File) (uint32, error) {
	sa, err := unix.Getsockname(f.Fd)
	if err != nil {
		return 0, err
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return uint32(sa.Port), nil
	case *unix.SockaddrInet6:
		return uint32(sa.Port), nil
	}
	return 0, errors.New("not an IP socket")
}

// tempDir is t.TempDir.
func tempDir(t testing.TB) string { return t.TempDir() }
