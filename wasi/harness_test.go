package wasi

import (
	"context"
	"encoding/binary"
	"sort"
	"testing"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// The test harness, shared by every host-function test in this package.
//
// Host functions read and write the memory of the module that calls them, so
// they cannot be tested by calling the host module's exports directly. Like
// wazero's internal/testing/proxy, newHarness builds a tiny guest in Go bytes
// that imports every function in the registry (its default, first variant),
// re-exports each one through a trampoline under the same name, and exports
// one page of memory. Tests call h.call("fd_seek", ...) and look at h.mem().
//
//	h := newHarness(t, Config{})       // fd 3 is a fresh t.TempDir() preopened as "/"
//	h.fill(0xaa)                       // mark all memory
//	h.writeString(0, "a.txt")
//	errno := h.call("path_open", 3, 0, 0, 5, 0, rights, 0, 0, 100)
//	h.u32(100)                         // the new fd

// harnessMemPages is the proxy's memory size in 64 KiB pages.
const harnessMemPages = 1

// harnessPreopenFD is the guest fd of the first preopen.
const harnessPreopenFD = 3

type harness struct {
	t   testing.TB
	ctx context.Context
	// host is the instantiated host module; sys its system layer.
	host *Host
	sys  *sys.System
	// guest is the proxy module whose memory host functions use.
	guest api.Module
	// dir is the host path of the first preopen (fd 3).
	dir string
	// funcs are the host functions the proxy imports, by name.
	funcs map[string]*hostFunc
}

// newHarness instantiates the host module with cfg and the proxy guest. When
// cfg has no preopens, a fresh t.TempDir() is preopened as "/" (fd 3).
// Everything is closed by t.Cleanup.
func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	return newShapeHarness(t, cfg, nil)
}

// call calls the host function name through the proxy and returns its errno.
// A trap fails the test (a host function must never panic).
func (h *harness) call(name string, params ...uint64) sys.Errno {
	h.t.Helper()
	errno, err := h.callErr(name, params...)
	if err != nil {
		h.t.Fatalf("%s%v: %v", name, params, err)
	}
	return errno
}

// callErr is call, returning a trap or exit as an error instead of failing.
func (h *harness) callErr(name string, params ...uint64) (sys.Errno, error) {
	h.t.Helper()
	fn := h.guest.ExportedFunction(name)
	if fn == nil {
		h.t.Fatalf("no host function %s", name)
	}
	res, err := fn.Call(h.ctx, params...)
	if err != nil {
		return 0, err
	}
	if len(res) == 0 {
		return 0, nil
	}
	return sys.Errno(res[0]), nil
}

// mem is the proxy's memory, which host functions read and write.
func (h *harness) mem() api.Memory { return h.guest.Memory() }

// memSize is the size of guest memory in bytes.
func (h *harness) memSize() uint32 { return h.mem().Size() }

// fill sets every byte of guest memory to marker.
func (h *harness) fill(marker byte) {
	b, _ := h.mem().Read(0, h.memSize())
	for i := range b {
		b[i] = marker
	}
}

// write copies b into guest memory at ptr.
func (h *harness) write(ptr uint32, b []byte) {
	h.t.Helper()
	if !h.mem().Write(ptr, b) {
		h.t.Fatalf("write %d bytes at %d: out of range", len(b), ptr)
	}
}

// writeString copies s into guest memory at ptr and returns its length.
func (h *harness) writeString(ptr uint32, s string) uint32 {
	h.t.Helper()
	h.write(ptr, []byte(s))
	return uint32(len(s))
}

// writeU32 and writeU64 store little-endian values in guest memory.
func (h *harness) writeU32(ptr, v uint32) {
	h.t.Helper()
	if !h.mem().WriteUint32Le(ptr, v) {
		h.t.Fatalf("write u32 at %d: out of range", ptr)
	}
}

func (h *harness) writeU64(ptr uint32, v uint64) {
	h.t.Helper()
	if !h.mem().WriteUint64Le(ptr, v) {
		h.t.Fatalf("write u64 at %d: out of range", ptr)
	}
}

// writeIovecs stores len(bufs) iovecs at iovs; iovec i points at bufs[i][0]
// with length bufs[i][1].
func (h *harness) writeIovecs(iovs uint32, bufs ...[2]uint32) {
	h.t.Helper()
	for i, b := range bufs {
		h.writeU32(iovs+uint32(i)*8, b[0])
		h.writeU32(iovs+uint32(i)*8+4, b[1])
	}
}

// read returns a copy of n bytes of guest memory at ptr.
func (h *harness) read(ptr, n uint32) []byte {
	h.t.Helper()
	b, ok := h.mem().Read(ptr, n)
	if !ok {
		h.t.Fatalf("read %d bytes at %d: out of range", n, ptr)
	}
	return append([]byte(nil), b...)
}

// u32 and u64 read little-endian values from guest memory.
func (h *harness) u32(ptr uint32) uint32 {
	h.t.Helper()
	v, ok := h.mem().ReadUint32Le(ptr)
	if !ok {
		h.t.Fatalf("read u32 at %d: out of range", ptr)
	}
	return v
}

func (h *harness) u64(ptr uint32) uint64 {
	h.t.Helper()
	v, ok := h.mem().ReadUint64Le(ptr)
	if !ok {
		h.t.Fatalf("read u64 at %d: out of range", ptr)
	}
	return v
}

// expectMem asserts that guest memory at ptr equals want.
func (h *harness) expectMem(ptr uint32, want []byte) {
	h.t.Helper()
	got := h.read(ptr, uint32(len(want)))
	if string(got) != string(want) {
		h.t.Errorf("memory at %d:\n got %x\nwant %x", ptr, got, want)
	}
}

// expectErrno asserts that calling name with params gives want.
func (h *harness) expectErrno(want sys.Errno, name string, params ...uint64) {
	h.t.Helper()
	if got := h.call(name, params...); got != want {
		h.t.Errorf("%s%v = %v, want %v", name, params, got, want)
	}
}

// proxyModule encodes a wasm module that imports every function in funcs
// from ModuleName, exports a trampoline for each under the same name, and
// exports "memory" of harnessMemPages pages.
func proxyModule(funcs map[string]*hostFunc) []byte {
	names := make([]string, 0, len(funcs))
	for n := range funcs {
		names = append(names, n)
	}
	sort.Strings(names)
	n := uint32(len(names))

	var types, imports, functions, exports, code []byte
	types = appendU32(types, n)
	imports = appendU32(imports, n)
	functions = appendU32(functions, n)
	exports = appendU32(exports, n+1)
	code = appendU32(code, n)
	for i, name := range names {
		f := funcs[name]
		types = append(types, 0x60)
		types = appendValTypes(types, f.paramTypes)
		types = appendValTypes(types, f.resultTypes())

		imports = appendName(imports, ModuleName)
		imports = appendName(imports, name)
		imports = append(imports, 0x00) // func
		imports = appendU32(imports, uint32(i))

		functions = appendU32(functions, uint32(i))

		exports = appendName(exports, name)
		exports = append(exports, 0x00) // func
		exports = appendU32(exports, n+uint32(i))

		body := []byte{0x00} // no locals
		for p := range f.paramTypes {
			body = append(body, 0x20) // local.get
			body = appendU32(body, uint32(p))
		}
		body = append(body, 0x10) // call
		body = appendU32(body, uint32(i))
		body = append(body, 0x0b) // end
		code = appendU32(code, uint32(len(body)))
		code = append(code, body...)
	}
	exports = appendName(exports, "memory")
	exports = append(exports, 0x02, 0x00) // memory 0
	memory := appendU32([]byte{0x01, 0x00}, harnessMemPages)

	out := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
	for _, s := range []struct {
		id   byte
		body []byte
	}{{1, types}, {2, imports}, {3, functions}, {5, memory}, {7, exports}, {10, code}} {
		out = append(out, s.id)
		out = appendU32(out, uint32(len(s.body)))
		out = append(out, s.body...)
	}
	return out
}

func appendU32(b []byte, v uint32) []byte { return binary.AppendUvarint(b, uint64(v)) }

func appendName(b []byte, s string) []byte {
	b = appendU32(b, uint32(len(s)))
	return append(b, s...)
}

func appendValTypes(b []byte, ts []api.ValueType) []byte {
	b = appendU32(b, uint32(len(ts)))
	return append(b, ts...)
}

// TestHarness checks the proxy itself: every registered function is
// reachable and memory is the size the tests assume.
func TestHarness(t *testing.T) {
	h := newHarness(t, Config{})
	for name := range h.funcs {
		if h.guest.ExportedFunction(name) == nil {
			t.Errorf("proxy does not export %s", name)
		}
	}
	if got, want := h.memSize(), uint32(harnessMemPages*65536); got != want {
		t.Fatalf("memory size = %d, want %d", got, want)
	}
	h.fill(0xaa)
	h.expectErrno(sys.ESUCCESS, "fd_prestat_get", harnessPreopenFD, 16)
	h.expectMem(16, []byte{0, 0, 0, 0, 1, 0, 0, 0, 0xaa})
	h.expectErrno(sys.EBADF, "fd_prestat_get", 99, 16)
}
