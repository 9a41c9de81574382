//go:build linux || darwin

package runner

import (
	"context"

	"github.com/tetratelabs/wazero/experimental"
	"golang.org/x/sys/unix"
)

// Guest memory is one private anonymous mapping of the memory's whole
// maximum, made once: address space only (untouched pages cost nothing
// and read as zeros, as wasm wants new pages), so memory.grow never copies
// the memory into a new buffer. wazero's default grows a Go slice by
// appending: each grow copies everything, and old and new buffers (plus
// the garbage collector's slack) are alive together, several times the
// guest's memory, which a memory limit then meets long before the guest
// does.
type mappedMemory struct {
	mapping []byte // the whole reservation
	buf     []byte // what the guest has
}

// withMappedMemory makes modules instantiated with ctx use mappedMemory.
func withMappedMemory(ctx context.Context) context.Context {
	return experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(allocateMapped))
}

func allocateMapped(capacity, max uint64) experimental.LinearMemory {
	if max == 0 || max > 1<<32 {
		max = 1 << 32
	}
	b, err := unix.Mmap(-1, 0, int(max), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		// No address space for all of it (a tight RLIMIT_AS): grow a
		// slice, as wazero does.
		return &sliceMemory{buf: make([]byte, capacity), max: max}
	}
	return &mappedMemory{mapping: b, buf: b[:min(capacity, max)]}
}

// Reallocate grows (or shrinks) the guest's view of the mapping; nil when
// size is past it.
func (m *mappedMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(m.mapping)) {
		return nil
	}
	m.buf = m.mapping[:size]
	return m.buf
}

// Free unmaps the memory.
func (m *mappedMemory) Free() {
	if m.mapping != nil {
		unix.Munmap(m.mapping)
		m.mapping, m.buf = nil, nil
	}
}

// sliceMemory is a guest memory in a Go slice, grown by copying.
type sliceMemory struct {
	buf []byte
	max uint64
}

func (m *sliceMemory) Reallocate(size uint64) []byte {
	switch {
	case size > m.max:
		return nil
	case size > uint64(cap(m.buf)):
		m.buf = append(m.buf[:cap(m.buf)], make([]byte, size-uint64(cap(m.buf)))...)
	}
	m.buf = m.buf[:size]
	return m.buf
}

func (m *sliceMemory) Free() { m.buf = nil }
