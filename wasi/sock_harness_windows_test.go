package wasi

import (
	"errors"
	"testing"

	"github.com/wasmrun/wasmrun/wasi/internal/wintest"

	"golang.org/x/sys/windows"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// hostPort is the port f's host socket is bound to.
func hostPort(f *sys.File) (uint32, error) {
	sa, err := windows.Getsockname(windows.Handle(f.Fd))
	if err != nil {
		return 0, err
	}
	switch sa := sa.(type) {
	case *windows.SockaddrInet4:
		return uint32(sa.Port), nil
	case *windows.SockaddrInet6:
		return uint32(sa.Port), nil
	}
	return 0, errors.New("not an IP socket")
}

// tempDir is t.TempDir, as Wine can remove it (wintest.TempDir).
func tempDir(t testing.TB) string { return wintest.TempDir(t) }
