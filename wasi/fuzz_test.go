package wasi

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// FuzzFilesystem calls one fd_* or path_* function with arbitrary
// parameters over guest memory the fuzzer fills: every combination must
// return an errno, never trap, and never touch anything outside the
// preopen. Parameters are biased towards the interesting range (small fds,
// pointers near the memory's end) by taking them modulo a few sizes.
func FuzzFilesystem(f *testing.F) {
	outside := f.TempDir()
	h := newHarness(f, Config{})
	for _, p := range []string{"d", "d/e"} {
		if err := os.Mkdir(filepath.Join(h.dir, p), 0o755); err != nil {
			f.Fatal(err)
		}
	}
	for _, p := range []string{"f", "d/g"} {
		if err := os.WriteFile(filepath.Join(h.dir, p), []byte("data"), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	os.Symlink(outside, filepath.Join(h.dir, "out"))
	os.Symlink("f", filepath.Join(h.dir, "lnk"))
	os.Symlink("loop", filepath.Join(h.dir, "loop"))

	var names []string
	for name := range h.funcs {
		if strings.HasPrefix(name, "path_") || (strings.HasPrefix(name, "fd_") && name != "fd_close") {
			names = append(names, name)
		}
	}
	sort.Strings(names)

	f.Add(uint8(0), []byte("f\x00../f\x00lnk"), uint64(3), uint64(0), uint64(0), uint64(1), uint64(0), uint64(0), uint64(0), uint64(0), uint64(200))
	f.Add(uint8(5), []byte("out/x"), uint64(3), uint64(1), uint64(0), uint64(5), uint64(8), uint64(^uint64(0)), uint64(0), uint64(0), uint64(65534))
	f.Add(uint8(20), []byte("d/e/../../.."), uint64(3), uint64(0), uint64(12), uint64(0), uint64(12), uint64(1), uint64(64), uint64(4), uint64(0xffffffff))
	f.Fuzz(func(t *testing.T, which uint8, mem []byte, a, b, c, d, e, g, i, j, k uint64) {
		h.t = t
		name := names[int(which)%len(names)]
		fn := h.funcs[name]
		h.fill(0)
		if len(mem) > 4096 {
			mem = mem[:4096]
		}
		h.write(0, mem)
		raw := []uint64{a, b, c, d, e, g, i, j, k}
		params := make([]uint64, len(fn.paramTypes))
		for n, ty := range fn.paramTypes {
			v := raw[n%len(raw)]
			if ty == api.ValueTypeI32 {
				v = uint64(bias32(uint32(v), h.memSize()))
			}
			params[n] = v
		}
		if name == "fd_allocate" {
			params[2] %= 1 << 20 // never let the fuzzer fill the disk
		}
		errno, err := h.guest.ExportedFunction(name).Call(h.ctx, params...)
		if err != nil {
			t.Fatalf("%s%v trapped: %v", name, params, err)
		}
		if len(errno) != 1 || errno[0] > uint64(sys.ENOTCAPABLE) {
			t.Fatalf("%s%v = %v, not a preview1 errno", name, params, errno)
		}
		if ents, _ := os.ReadDir(outside); len(ents) != 0 {
			t.Fatalf("%s%v created %s outside the preopen", name, params, ents[0].Name())
		}
		// Undo narrowed preopen rights so later inputs still reach the
		// file system, and keep the fd table small.
		if pre, errno := h.sys.Lookup(harnessPreopenFD); errno == 0 && pre.IsPreopen() {
			pre.RightsBase, pre.RightsInheriting = sys.MaxRights(sys.FiletypeDirectory)
		}
		h.sys.FDs.Range(func(fd int32, _ *sys.File) bool {
			if fd > 8 {
				h.sys.CloseFD(fd)
			}
			return true
		})
	})
}

// bias32 maps an arbitrary i32 parameter to one of the values that matter:
// small numbers (fds, flags, short lengths, pointers at the start), values
// near the end of memory, or the raw value.
func bias32(v, memSize uint32) uint32 {
	switch v >> 30 {
	case 0:
		return v % 64
	case 1:
		return memSize - v%64
	case 2:
		return v % 8192
	}
	return v
}
