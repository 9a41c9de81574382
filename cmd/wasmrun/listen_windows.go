package main

import (
	"net"
	"os"

	"golang.org/x/sys/windows"
)

// listenerFile is a duplicate of l's socket as a file: a Winsock socket
// (Go's File is not implemented for sockets on Windows), which
// wasi.Config.Listeners takes there.
func listenerFile(l *net.TCPListener) (*os.File, error) {
	rc, err := l.SyscallConn()
	if err != nil {
		return nil, err
	}
	var h windows.Handle
	var dupErr error
	if err := rc.Control(func(fd uintptr) {
		var info windows.WSAProtocolInfo
		if dupErr = windows.WSADuplicateSocket(windows.Handle(fd), windows.GetCurrentProcessId(), &info); dupErr != nil {
			return
		}
		const fromProtocolInfo = -1
		h, dupErr = windows.WSASocket(fromProtocolInfo, fromProtocolInfo, fromProtocolInfo, &info, 0, 0x80 /* WSA_FLAG_NO_HANDLE_INHERIT */)
	}); err != nil {
		return nil, err
	}
	if dupErr != nil {
		return nil, os.NewSyscallError("duplicate listening socket", dupErr)
	}
	return os.NewFile(uintptr(h), l.Addr().String()), nil
}
