package wasi

import (
	"fmt"
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
	outside := tempDir(f)
	h := newHarness(f, Config{})
	fuzzTree(f, h.dir, outside)
	names := fsFuncs(h)
	f.Add(uint8(0), []byte("f\x00../f\x00lnk"), uint64(3), uint64(0), uint64(0), uint64(1), uint64(0), uint64(0), uint64(0), uint64(0), uint64(200))
	f.Add(uint8(5), []byte("out/x"), uint64(3), uint64(1), uint64(0), uint64(5), uint64(8), uint64(^uint64(0)), uint64(0), uint64(0), uint64(65534))
	f.Add(uint8(20), []byte("d/e/../../.."), uint64(3), uint64(0), uint64(12), uint64(0), uint64(12), uint64(1), uint64(64), uint64(4), uint64(0xffffffff))
	f.Fuzz(func(t *testing.T, which uint8, mem []byte, a, b, c, d, e, g, i, j, k uint64) {
		h.t = t
		h.fill(0)
		fuzzCall(t, h, names, which, mem, []uint64{a, b, c, d, e, g, i, j, k})
		if ents, _ := os.ReadDir(outside); len(ents) != 0 {
			t.Fatalf("created %s outside the preopen", ents[0].Name())
		}
		fuzzReset(h)
	})
}

// FuzzReadOnlyFilesystem runs sequences of fd_* and path_* calls with
// arbitrary parameters on a read-only preopen (writable /tmp next to it):
// whatever the calls, the read-only tree is unchanged after each one.
// Memory spans several pages, so large valid lengths are reached too.
func FuzzReadOnlyFilesystem(f *testing.F) {
	outside, tmp := tempDir(f), tempDir(f)
	ro := tempDir(f)
	fuzzTree(f, ro, outside)
	h := newHarness(f, Config{Preopens: []Preopen{{HostPath: ro, GuestPath: "/", ReadOnly: true}, {HostPath: tmp, GuestPath: "/tmp"}}})
	if _, ok := h.mem().Grow(3); !ok {
		f.Fatal("grow the proxy's memory to 4 pages")
	}
	before := dirDigest(f, ro)
	names := fsFuncs(h)
	f.Add([]byte{0, 7, 30}, []byte("f\x00d/g\x00/tmp/x"), uint64(3), uint64(4), uint64(0), uint64(1), uint64(64), uint64(9), uint64(0), uint64(0), uint64(200))
	f.Add([]byte{12, 12}, []byte("d\x00lnk"), uint64(3), uint64(0), uint64(1), uint64(1), uint64(0), uint64(^uint64(0)), uint64(1<<20), uint64(0), uint64(65534))
	f.Fuzz(func(t *testing.T, seq []byte, mem []byte, a, b, c, d, e, g, i, j, k uint64) {
		h.t = t
		h.fill(0)
		if len(seq) > 4 {
			seq = seq[:4]
		}
		for n, which := range seq {
			// Each step sees the parameters rotated, so a sequence is not
			// one call repeated.
			raw := []uint64{a, b, c, d, e, g, i, j, k}
			raw = append(raw[n%len(raw):], raw[:n%len(raw)]...)
			fuzzCall(t, h, names, which, mem, raw)
			if after := dirDigest(t, ro); after != before {
				t.Fatalf("step %d (%s) changed the read-only tree", n, names[int(which)%len(names)])
			}
		}
		if ents, _ := os.ReadDir(outside); len(ents) != 0 {
			t.Fatalf("created %s outside the preopens", ents[0].Name())
		}
		fuzzReset(h)
		os.RemoveAll(tmp)
		os.Mkdir(tmp, 0o755)
	})
}

// fuzzTree makes the files, directories and links the file system fuzz
// targets work on in dir, with outside as where a symlink leads out.
func fuzzTree(f *testing.F, dir, outside string) {
	for _, p := range []string{"d", "d/e"} {
		if err := os.Mkdir(filepath.Join(dir, p), 0o755); err != nil {
			f.Fatal(err)
		}
	}
	for _, p := range []string{"f", "d/g"} {
		if err := os.WriteFile(filepath.Join(dir, p), []byte("data"), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	os.Symlink(outside, filepath.Join(dir, "out"))
	os.Symlink("f", filepath.Join(dir, "lnk"))
	os.Symlink("loop", filepath.Join(dir, "loop"))
}

// fsFuncs are the names of the fd_* and path_* host functions, sorted.
func fsFuncs(h *harness) []string {
	var names []string
	for name := range h.funcs {
		if strings.HasPrefix(name, "path_") || (strings.HasPrefix(name, "fd_") && name != "fd_close") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// fuzzCall calls the host function picked by which with mem at address 0
// and parameters from raw, biased towards the interesting range: it must
// return a preview1 errno and never trap.
func fuzzCall(t *testing.T, h *harness, names []string, which uint8, mem []byte, raw []uint64) {
	name := names[int(which)%len(names)]
	fn := h.funcs[name]
	if len(mem) > 4096 {
		mem = mem[:4096]
	}
	h.write(0, mem)
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
	limit := sys.ENOTCAPABLE
	if name == "sock_getaddrinfo" {
		limit = sys.EAI_SYSTEM // and getaddrinfo's own errors after them
	}
	if len(errno) != 1 || errno[0] > uint64(limit) {
		t.Fatalf("%s%v = %v, not a preview1 errno", name, params, errno)
	}
}

// fuzzReset undoes narrowed preopen rights so later inputs still reach the
// file system, and keeps the fd table small.
func fuzzReset(h *harness) {
	h.sys.FDs.Range(func(fd int32, f *sys.File) bool {
		switch {
		case f.IsPreopen():
			f.RightsBase, f.RightsInheriting = sys.MaxRights(sys.FiletypeDirectory)
			if f.ReadOnly {
				f.RightsBase &^= sys.RightsMutating
				f.RightsInheriting &^= sys.RightsMutating
			}
		case fd > 8:
			h.sys.CloseFD(fd)
		}
		return true
	})
}

// dirDigest is every path under dir with its mode, size, time and content.
func dirDigest(t testing.TB, dir string) string {
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		fmt.Fprintf(&b, "%s %v %d %d\n", p, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			c, _ := os.ReadFile(p)
			b.Write(c)
		}
		return nil
	})
	return b.String()
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
