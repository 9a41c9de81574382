package wasi

import (
	"errors"

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
