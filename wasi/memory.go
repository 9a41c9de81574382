package wasi

import (
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// Guest memory access. Every helper is bounds-checked and reports failure as
// EFAULT; nothing here panics on a bad guest pointer or length.

// maxIovecs bounds the iovec count like IOV_MAX, so a guest cannot make the
// host allocate without limit.
const maxIovecs = 1024

// readIovecs returns views into guest memory for n iovecs at iovs. Each iovec
// is {u32 buf, u32 len}. The views alias guest memory: writing into them
// writes the guest's buffers. They are kept in the Host's scratch slice, so
// a call allocates nothing (a guest is single-threaded: no other call uses
// it meanwhile); the caller passes them on and calls h.doneIovecs when done
// with them.
func (h *Host) readIovecs(mem api.Memory, iovs, n uint32) ([][]byte, sys.Errno) {
	if n > maxIovecs {
		return nil, sys.EINVAL
	}
	raw, ok := mem.Read(iovs, n*8)
	if !ok {
		return nil, sys.EFAULT
	}
	bufs := h.iovs[:0]
	for i := uint32(0); i < n; i++ {
		ptr := le32(raw[i*8:])
		l := le32(raw[i*8+4:])
		b, ok := mem.Read(ptr, l)
		if !ok {
			h.iovs = bufs
			h.doneIovecs()
			return nil, sys.EFAULT
		}
		bufs = append(bufs, b)
	}
	h.iovs = bufs
	return bufs, sys.ESUCCESS
}

// doneIovecs forgets the views readIovecs made, so that the scratch slice
// does not keep guest memory reachable after it grows (wazero may move it).
func (h *Host) doneIovecs() {
	clear(h.iovs)
	h.iovs = h.iovs[:0]
}

// readString reads len bytes at ptr as a string (a copy).
func readString(mem api.Memory, ptr, n uint32) (string, sys.Errno) {
	b, ok := mem.Read(ptr, n)
	if !ok {
		return "", sys.EFAULT
	}
	return string(b), sys.ESUCCESS
}

// writeU32 writes v at ptr.
func writeU32(mem api.Memory, ptr, v uint32) sys.Errno {
	if !mem.WriteUint32Le(ptr, v) {
		return sys.EFAULT
	}
	return sys.ESUCCESS
}

// writeU64 writes v at ptr.
func writeU64(mem api.Memory, ptr uint32, v uint64) sys.Errno {
	if !mem.WriteUint64Le(ptr, v) {
		return sys.EFAULT
	}
	return sys.ESUCCESS
}

// view returns n writable bytes of guest memory at ptr.
func view(mem api.Memory, ptr, n uint32) ([]byte, sys.Errno) {
	b, ok := mem.Read(ptr, n)
	if !ok {
		return nil, sys.EFAULT
	}
	return b, sys.ESUCCESS
}

func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }
func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
func le64(b []byte) uint64 { return uint64(le32(b)) | uint64(le32(b[4:]))<<32 }

func putLe16(b []byte, v uint16) { b[0], b[1] = byte(v), byte(v>>8) }
func putLe32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}
func putLe64(b []byte, v uint64) { putLe32(b, uint32(v)); putLe32(b[4:], uint32(v>>32)) }

// writable reports EFAULT unless n bytes at each pointer are in memory.
func writable(mem api.Memory, n uint32, ptrs ...uint32) sys.Errno {
	for _, p := range ptrs {
		if _, ok := mem.Read(p, n); !ok {
			return sys.EFAULT
		}
	}
	return sys.ESUCCESS
}
