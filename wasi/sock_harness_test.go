package wasi

import (
	"context"
	"encoding/binary"
	"net"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// Socket tests drive the host functions through the proxy harness with real
// sockets on loopback, and a real Go peer on the other end.

// Shapes: which variant of each multi-shape function a proxy imports,
// by parameter count.
var (
	shapeV1 = map[string]int{"sock_accept": 2, "sock_recv_from": 7, "sock_getlocaladdr": 4, "sock_getpeeraddr": 4}
	shapeV2 = map[string]int{"sock_accept": 3, "sock_recv_from": 8, "sock_getlocaladdr": 3, "sock_getpeeraddr": 3}
)

// newShapeHarness is newHarness with the proxy importing the variants in
// shape (name -> parameter count) instead of the defaults.
func newShapeHarness(t testing.TB, cfg Config, shape map[string]int) *harness {
	t.Helper()
	ctx := context.Background()
	if len(cfg.Preopens) == 0 {
		cfg.Preopens = []Preopen{{HostPath: tempDir(t), GuestPath: "/"}}
	}
	h := &harness{t: t, ctx: ctx, dir: cfg.Preopens[0].HostPath, funcs: map[string]*hostFunc{}}
	for name, variants := range registry {
		h.funcs[name] = variants[0]
		if n, ok := shape[name]; ok {
			found := false
			for _, v := range variants {
				if len(v.paramTypes) == n {
					h.funcs[name], found = v, true
				}
			}
			if !found {
				t.Fatalf("no variant of %s with %d params", name, n)
			}
		}
	}
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	t.Cleanup(func() { r.Close(ctx) })
	compiled, err := r.CompileModule(ctx, proxyModule(h.funcs))
	if err != nil {
		t.Fatalf("compile proxy module: %v", err)
	}
	h.host, err = Instantiate(ctx, r, compiled, cfg)
	if err != nil {
		t.Fatalf("instantiate host module: %v", err)
	}
	t.Cleanup(func() { h.host.Close(ctx) })
	h.sys = h.host.sys
	h.guest, err = r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName("proxy"))
	if err != nil {
		t.Fatalf("instantiate proxy module: %v", err)
	}
	return h
}

// Guest memory layout used by these tests.
const (
	pFD      = 0     // u32 result fd
	pPort    = 8     // u32 result port
	pType    = 12    // u32 result addr_type
	pN       = 16    // u32 result count
	pFlags   = 20    // u16 result flags
	pAddr    = 32    // address struct {buf, len}
	pAddrBuf = 64    // address buffer (128 bytes)
	pIov     = 256   // iovecs
	pData    = 1024  // data buffer
	pBad     = 65535 // a pointer whose 2+ byte reads are out of range
)

var (
	ip4Loopback = []byte{127, 0, 0, 1}
	ip6Loopback = net.IPv6loopback.To16()
)

func (h *harness) sockOpen(af sys.Family, st sys.SockType) uint64 {
	h.t.Helper()
	if errno := h.call("sock_open", uint64(af), uint64(st), pFD); errno != 0 {
		h.t.Fatalf("sock_open(%d, %d) = %v", af, st, errno)
	}
	return uint64(h.u32(pFD))
}

// putAddrV1 stores a V1 address (raw IP bytes) at pAddr.
func (h *harness) putAddrV1(ip []byte) {
	h.t.Helper()
	h.writeU32(pAddr, pAddrBuf)
	h.writeU32(pAddr+4, uint32(len(ip)))
	h.write(pAddrBuf, ip)
}

// putAddrV2 stores a 128-byte V2 address at pAddr.
func (h *harness) putAddrV2(family sys.Family, ip []byte, path string) {
	h.t.Helper()
	b := make([]byte, addrBufSize)
	binary.LittleEndian.PutUint16(b, uint16(family))
	copy(b[2:], ip)
	copy(b[2:], path)
	h.writeU32(pAddr, pAddrBuf)
	h.writeU32(pAddr+4, addrBufSize)
	h.write(pAddrBuf, b)
}

// outAddr prepares an empty output address buffer of n bytes at pAddr.
func (h *harness) outAddr(n uint32) {
	h.writeU32(pAddr, pAddrBuf)
	h.writeU32(pAddr+4, n)
}

// listen4 opens a TCP socket listening on 127.0.0.1 and returns its fd and port.
func (h *harness) listen4() (fd uint64, port uint32) {
	h.t.Helper()
	fd = h.sockOpen(sys.AFInet4, sys.SockStream)
	h.putAddrV1(ip4Loopback)
	h.expectErrno(0, "sock_bind", fd, pAddr, 0)
	h.expectErrno(0, "sock_listen", fd, 16)
	return fd, h.localPort(fd)
}

// localPort returns the port fd is bound to, from the host's view.
func (h *harness) localPort(fd uint64) uint32 {
	h.t.Helper()
	f, errno := h.sys.Lookup(int32(fd))
	if errno != 0 {
		h.t.Fatalf("lookup %d: %v", fd, errno)
	}
	port, err := hostPort(f)
	if err != nil {
		h.t.Fatalf("fd %d: %v", fd, err)
	}
	return port
}

// sendBuf stores data at pData with one iovec at pIov.
func (h *harness) sendBuf(data string) {
	h.write(pData, []byte(data))
	h.writeIovecs(pIov, [2]uint32{pData, uint32(len(data))})
}
