//go:build wasip1 && getaddrinfo

package main

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"unsafe"
)

// The socket extension's sock_getaddrinfo (WasmEdge's layout, as
// wasi/sock_getaddrinfo.go in wasmrun documents it).
//
//go:wasmimport wasi_snapshot_preview1 sock_getaddrinfo
//go:noescape
func sockGetaddrinfo(node unsafe.Pointer, nodeLen uint32, service unsafe.Pointer, serviceLen uint32,
	hints unsafe.Pointer, res unsafe.Pointer, maxResLen uint32, resLen unsafe.Pointer) syscall.Errno

// gaiAddrinfo is the 28-byte wasm32 addrinfo.
type gaiAddrinfo struct {
	flags        uint16
	family       uint8
	socktype     uint8
	protocol     uint32
	addrlen      uint32
	addr         uint32 // *gaiSockaddr
	canonname    uint32
	canonnameLen uint32
	next         uint32 // *gaiAddrinfo
}

// gaiSockaddr is the 12-byte sockaddr: family, data length, data pointer.
type gaiSockaddr struct {
	family  uint32
	dataLen uint32
	data    uint32
}

type gaiEntry struct {
	ai   gaiAddrinfo
	sa   gaiSockaddr
	data [26]byte // port (2, big-endian) then the address
}

const (
	gaiAFInet4    = 1
	gaiAFInet6    = 2
	gaiSockStream = 2
	gaiProtoTCP   = 1
	gaiMax        = 16

	// sock_getaddrinfo's errors (wasi/internal/sys/errno.go).
	gaiAgain  syscall.Errno = 78
	gaiNoData syscall.Errno = 83
	gaiNoName syscall.Errno = 84
)

func ptr32[T any](p *T) uint32 { return uint32(uintptr(unsafe.Pointer(p))) }

// resolve asks the host (sock_getaddrinfo) for host's TCP addresses.
func resolve(_ context.Context, host string, family int) ([]net.IP, error) {
	hints := gaiAddrinfo{socktype: gaiSockStream, protocol: gaiProtoTCP}
	switch family {
	case 4:
		hints.family = gaiAFInet4
	case 6:
		hints.family = gaiAFInet6
	}
	entries := make([]gaiEntry, gaiMax)
	for i := range entries {
		e := &entries[i]
		e.sa.dataLen = uint32(len(e.data))
		e.sa.data = ptr32(&e.data[0])
		e.ai.addrlen = uint32(unsafe.Sizeof(e.sa))
		e.ai.addr = ptr32(&e.sa)
		if i > 0 {
			entries[i-1].ai.next = ptr32(&e.ai)
		}
	}
	res := ptr32(&entries[0].ai)
	node := append([]byte(host), 0)
	service := []byte("0\x00")
	var n uint32
	errno := sockGetaddrinfo(unsafe.Pointer(&node[0]), uint32(len(node)), unsafe.Pointer(&service[0]), uint32(len(service)),
		unsafe.Pointer(&hints), unsafe.Pointer(&res), gaiMax, unsafe.Pointer(&n))
	if errno != 0 {
		// The socket extension's getaddrinfo errors follow preview1's
		// errnos: a name that does not exist (or has no address) is not
		// found; a nameserver that fails or does not answer is a
		// temporary failure, as Node tells them apart (ENOTFOUND,
		// EAI_AGAIN).
		e := &net.DNSError{Err: fmt.Sprintf("getaddrinfo: error %d", uint16(errno)), Name: host}
		switch errno {
		case gaiNoName, gaiNoData:
			e.IsNotFound = true
		case gaiAgain:
			e.IsTemporary = true
		}
		return nil, e
	}
	var ips []net.IP
	for _, e := range entries[:n] {
		switch e.sa.family {
		case gaiAFInet4:
			ips = append(ips, net.IP(append([]byte(nil), e.data[2:6]...)))
		case gaiAFInet6:
			ips = append(ips, net.IP(append([]byte(nil), e.data[2:18]...)))
		}
	}
	return ips, nil
}
