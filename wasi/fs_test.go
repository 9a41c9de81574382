//go:build linux || darwin

package wasi

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// Guest memory layout used by the fd_* and path_* tests.
const (
	fsResult  = 0    // result pointers
	fsIovs    = 512  // iovec arrays
	fsPath    = 1024 // first path
	fsPath2   = 1536 // second path
	fsBuf     = 4096 // data buffers
	fsMarker  = 0xaa // what memory is filled with before a call
	fsBufSize = 8192
)

// le64Bytes and le32Bytes are little-endian encodings for expectMem.
func le64Bytes(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
func le32Bytes(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// marked appends n marker bytes to b: the bytes a call must not touch.
func marked(b []byte, n int) []byte { return append(b, bytes.Repeat([]byte{fsMarker}, n)...) }

// fsOpen opens path beneath the preopen through path_open and returns the
// guest fd; it fails the test on an error.
func fsOpen(h *harness, path string, oflags uint16, rights sys.Rights, fdflags sys.Fdflags) uint32 {
	h.t.Helper()
	n := h.writeString(fsPath, path)
	errno := h.call("path_open", harnessPreopenFD, 1, fsPath, uint64(n), uint64(oflags),
		uint64(rights), uint64(sys.RightsAll), uint64(fdflags), fsResult)
	if errno != 0 {
		h.t.Fatalf("path_open(%q) = %v", path, errno)
	}
	return h.u32(fsResult)
}

// writeFile creates a file under the preopen.
func writeFile(t *testing.T, h *harness, name, data string) string {
	t.Helper()
	p := filepath.Join(h.dir, name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFdSeekTell(t *testing.T) {
	h := newHarness(t, Config{})
	writeFile(t, h, "f", "0123456789")
	fd := uint64(fsOpen(h, "f", 0, sys.RightsAll, 0))

	seek := func(off int64, whence uint64, want uint64) {
		t.Helper()
		h.fill(fsMarker)
		h.expectErrno(sys.ESUCCESS, "fd_seek", fd, uint64(off), whence, 100)
		h.expectMem(100, marked(le64Bytes(want), 1))
		h.expectMem(99, []byte{fsMarker})
	}
	seek(4, sys.WhenceSet, 4)
	seek(-1, sys.WhenceCur, 3)
	seek(0, sys.WhenceEnd, 10)
	seek(5, sys.WhenceEnd, 15)

	h.fill(fsMarker)
	h.expectErrno(sys.ESUCCESS, "fd_tell", fd, 200)
	h.expectMem(200, marked(le64Bytes(15), 1))

	h.fill(fsMarker)
	h.expectErrno(sys.EINVAL, "fd_seek", fd, 0, 3, 100)
	h.expectErrno(sys.EINVAL, "fd_seek", fd, uint64(^uint64(0)), sys.WhenceSet, 100) // -1
	h.expectErrno(sys.EBADF, "fd_seek", 99, 0, sys.WhenceSet, 100)
	h.expectErrno(sys.EBADF, "fd_tell", 99, 100)
	h.expectMem(100, marked(nil, 8))

	// A directory carries neither FD_SEEK nor FD_TELL.
	h.expectErrno(sys.ENOTCAPABLE, "fd_seek", harnessPreopenFD, 0, sys.WhenceSet, 100)
	h.expectErrno(sys.ENOTCAPABLE, "fd_tell", harnessPreopenFD, 100)

	// With only FD_TELL, a zero move from CUR is allowed and nothing else.
	h.expectErrno(sys.ESUCCESS, "fd_fdstat_set_rights", fd, uint64(sys.RightFdTell), 0)
	h.expectErrno(sys.ESUCCESS, "fd_seek", fd, 0, sys.WhenceCur, 100)
	h.expectErrno(sys.ENOTCAPABLE, "fd_seek", fd, 1, sys.WhenceCur, 100)
	h.expectErrno(sys.ENOTCAPABLE, "fd_seek", fd, 0, sys.WhenceSet, 100)
}

func TestFdSeekPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	h := newHarness(t, Config{Stdin: r})
	h.fill(fsMarker)
	h.expectErrno(sys.ESPIPE, "fd_seek", 0, 0, sys.WhenceCur, 100)
	h.expectErrno(sys.ESPIPE, "fd_tell", 0, 100)
	h.expectErrno(sys.ESPIPE, "fd_pread", 0, fsIovs, 0, 0, 100)
	h.expectMem(100, marked(nil, 8))
}

func TestFdPreadPwrite(t *testing.T) {
	h := newHarness(t, Config{})
	p := writeFile(t, h, "f", "0123456789")
	fd := uint64(fsOpen(h, "f", 0, sys.RightsAll, 0))

	h.fill(fsMarker)
	h.writeString(fsBuf, "ab")
	h.writeString(fsBuf+10, "XYZ")
	h.writeIovecs(fsIovs, [2]uint32{fsBuf, 2}, [2]uint32{fsBuf + 10, 3})
	h.expectErrno(sys.ESUCCESS, "fd_pwrite", fd, fsIovs, 2, 8, 100)
	h.expectMem(100, marked(le32Bytes(5), 1))
	if b, _ := os.ReadFile(p); string(b) != "01234567abXYZ" {
		t.Errorf("file = %q", b)
	}

	h.fill(fsMarker)
	h.writeIovecs(fsIovs, [2]uint32{fsBuf, 3}, [2]uint32{fsBuf + 10, 2})
	h.expectErrno(sys.ESUCCESS, "fd_pread", fd, fsIovs, 2, 7, 100)
	h.expectMem(100, marked(le32Bytes(5), 1))
	h.expectMem(fsBuf, marked([]byte("7ab"), 7))
	h.expectMem(fsBuf+10, marked([]byte("XY"), 1))

	// Neither moved the position.
	h.expectErrno(sys.ESUCCESS, "fd_tell", fd, 100)
	h.expectMem(100, le64Bytes(0))

	// Reading past the end is 0 bytes.
	h.expectErrno(sys.ESUCCESS, "fd_pread", fd, fsIovs, 1, 1000, 100)
	h.expectMem(100, le32Bytes(0))

	h.expectErrno(sys.EINVAL, "fd_pread", fd, fsIovs, 1, 1<<63, 100)
	h.expectErrno(sys.ENOTCAPABLE, "fd_pread", harnessPreopenFD, fsIovs, 1, 0, 100) // no FD_READ
	h.expectErrno(sys.EBADF, "fd_pwrite", 99, fsIovs, 1, 0, 100)
	ro := uint64(fsOpen(h, "f", 0, sys.RightFdRead, 0))
	h.expectErrno(sys.ENOTCAPABLE, "fd_pwrite", ro, fsIovs, 1, 0, 100)
}

func TestFdFilestatGet(t *testing.T) {
	h := newHarness(t, Config{})
	p := writeFile(t, h, "f", "hello")
	fd := uint64(fsOpen(h, "f", 0, sys.RightsAll, 0))
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	h.fill(fsMarker)
	h.expectErrno(sys.ESUCCESS, "fd_filestat_get", fd, 100)
	h.expectMem(99, []byte{fsMarker})
	h.expectMem(100, marked(filestatBytes(&st, sys.FiletypeRegularFile), 1))

	if err := unix.Stat(h.dir, &st); err != nil {
		t.Fatal(err)
	}
	h.expectErrno(sys.ESUCCESS, "fd_filestat_get", harnessPreopenFD, 100)
	h.expectMem(100, filestatBytes(&st, sys.FiletypeDirectory))

	h.expectErrno(sys.EBADF, "fd_filestat_get", 99, 100)
	h.expectErrno(sys.ESUCCESS, "fd_fdstat_set_rights", fd, 0, 0)
	h.expectErrno(sys.ENOTCAPABLE, "fd_filestat_get", fd, 100)
}

// filestatBytes is the expected 64-byte filestat of st.
func filestatBytes(st *unix.Stat_t, ft sys.Filetype) []byte {
	b := make([]byte, 64)
	binary.LittleEndian.PutUint64(b[0:], uint64(st.Dev))
	binary.LittleEndian.PutUint64(b[8:], st.Ino)
	b[16] = byte(ft)
	binary.LittleEndian.PutUint64(b[24:], uint64(st.Nlink))
	binary.LittleEndian.PutUint64(b[32:], uint64(st.Size))
	binary.LittleEndian.PutUint64(b[40:], uint64(st.Atim.Nano()))
	binary.LittleEndian.PutUint64(b[48:], uint64(st.Mtim.Nano()))
	binary.LittleEndian.PutUint64(b[56:], uint64(st.Ctim.Nano()))
	return b
}

func TestFdFilestatSetSize(t *testing.T) {
	h := newHarness(t, Config{})
	p := writeFile(t, h, "f", "hello")
	fd := uint64(fsOpen(h, "f", 0, sys.RightsAll, 0))
	h.expectErrno(sys.ESUCCESS, "fd_filestat_set_size", fd, 2)
	if b, _ := os.ReadFile(p); string(b) != "he" {
		t.Errorf("after truncate: %q", b)
	}
	h.expectErrno(sys.ESUCCESS, "fd_filestat_set_size", fd, 4)
	if b, _ := os.ReadFile(p); string(b) != "he\x00\x00" {
		t.Errorf("after extend: %q", b)
	}
	h.expectErrno(sys.EINVAL, "fd_filestat_set_size", fd, 1<<63)
	h.expectErrno(sys.ENOTCAPABLE, "fd_filestat_set_size", harnessPreopenFD, 0)
	h.expectErrno(sys.EBADF, "fd_filestat_set_size", 99, 0)
}

func TestFdFilestatSetTimes(t *testing.T) {
	h := newHarness(t, Config{})
	p := writeFile(t, h, "f", "")
	fd := uint64(fsOpen(h, "f", 0, sys.RightsAll, 0))
	const atim, mtim = 1_000_000_123 - 1_000_000_123%fileTimeRes, 2_000_000_456 - 2_000_000_456%fileTimeRes
	times := func() (a, m int64) {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st.Atim.Nano(), st.Mtim.Nano()
	}

	h.expectErrno(sys.ESUCCESS, "fd_filestat_set_times", fd, atim, mtim, uint64(sys.FstflagAtim|sys.FstflagMtim))
	if a, m := times(); a != atim || m != mtim {
		t.Errorf("times = %d %d, want %d %d", a, m, atim, mtim)
	}
	// Only mtime: atime is left alone.
	h.expectErrno(sys.ESUCCESS, "fd_filestat_set_times", fd, 5, 7000, uint64(sys.FstflagMtim))
	if a, m := times(); a != atim || m != 7000 {
		t.Errorf("times = %d %d, want %d 7000", a, m, atim)
	}
	before := time.Now().Add(-time.Minute).UnixNano()
	h.expectErrno(sys.ESUCCESS, "fd_filestat_set_times", fd, 0, 0, uint64(sys.FstflagAtimNow))
	if a, m := times(); a < before || m != 7000 {
		t.Errorf("ATIM_NOW: times = %d %d", a, m)
	}
	h.expectErrno(sys.EINVAL, "fd_filestat_set_times", fd, 0, 0, uint64(sys.FstflagAtim|sys.FstflagAtimNow))
	h.expectErrno(sys.EINVAL, "fd_filestat_set_times", fd, 0, 0, uint64(sys.FstflagMtim|sys.FstflagMtimNow))
	h.expectErrno(sys.EINVAL, "fd_filestat_set_times", fd, 0, 0, 16)
	h.expectErrno(sys.EINVAL, "fd_filestat_set_times", fd, 0, 0, 1<<16)
	h.expectErrno(sys.EBADF, "fd_filestat_set_times", 99, 0, 0, 0)
}

func TestFdAdviseAllocate(t *testing.T) {
	h := newHarness(t, Config{})
	p := writeFile(t, h, "f", "")
	fd := uint64(fsOpen(h, "f", 0, sys.RightsAll, 0))
	for advice := uint64(0); advice <= 5; advice++ {
		h.expectErrno(sys.ESUCCESS, "fd_advise", fd, 0, 100, advice)
	}
	h.expectErrno(sys.EINVAL, "fd_advise", fd, 0, 100, 6)
	h.expectErrno(sys.EINVAL, "fd_advise", fd, 0, 100, 256)
	h.expectErrno(sys.EBADF, "fd_advise", 99, 0, 0, 0)

	switch errno := h.call("fd_allocate", fd, 10, 90); errno {
	case sys.ESUCCESS:
		if st, _ := os.Stat(p); st.Size() != 100 {
			t.Errorf("size after fd_allocate = %d, want 100", st.Size())
		}
	case sys.ENOTSUP:
		t.Log("file system without fallocate")
	default:
		t.Errorf("fd_allocate = %v", errno)
	}
	h.expectErrno(sys.EINVAL, "fd_allocate", fd, 0, 0)
	h.expectErrno(sys.EINVAL, "fd_allocate", fd, 1<<62, 1<<62)
	h.expectErrno(sys.EINVAL, "fd_allocate", fd, 1<<63, 1)
	h.expectErrno(sys.ENOTCAPABLE, "fd_allocate", harnessPreopenFD, 0, 1)
}

func TestFdSyncDatasync(t *testing.T) {
	h := newHarness(t, Config{})
	writeFile(t, h, "f", "x")
	fd := uint64(fsOpen(h, "f", 0, sys.RightsAll, 0))
	h.expectErrno(sys.ESUCCESS, "fd_sync", fd)
	h.expectErrno(sys.ESUCCESS, "fd_datasync", fd)
	h.expectErrno(sys.ESUCCESS, "fd_sync", harnessPreopenFD)
	h.expectErrno(sys.ENOTCAPABLE, "fd_datasync", harnessPreopenFD)
	h.expectErrno(sys.EBADF, "fd_sync", 99)
	h.expectErrno(sys.EBADF, "fd_datasync", 99)
}

func TestFdFdstatSetFlags(t *testing.T) {
	h := newHarness(t, Config{})
	p := writeFile(t, h, "f", "abc")
	fd := uint64(fsOpen(h, "f", 0, sys.RightsAll, 0))

	h.expectErrno(sys.ESUCCESS, "fd_fdstat_set_flags", fd, uint64(sys.FdflagAppend|sys.FdflagNonblock))
	h.fill(fsMarker)
	h.expectErrno(sys.ESUCCESS, "fd_fdstat_get", fd, 100)
	h.expectMem(102, []byte{byte(sys.FdflagAppend | sys.FdflagNonblock), 0})
	// APPEND is real: a write at position 0 lands at the end.
	h.writeString(fsBuf, "Z")
	h.writeIovecs(fsIovs, [2]uint32{fsBuf, 1})
	h.expectErrno(sys.ESUCCESS, "fd_write", fd, fsIovs, 1, 100)
	if b, _ := os.ReadFile(p); string(b) != "abcZ" {
		t.Errorf("after append: %q", b)
	}
	h.expectErrno(sys.ESUCCESS, "fd_fdstat_set_flags", fd, 0)
	h.expectErrno(sys.ESUCCESS, "fd_seek", fd, 0, sys.WhenceSet, 100)
	h.expectErrno(sys.ESUCCESS, "fd_write", fd, fsIovs, 1, 100)
	if b, _ := os.ReadFile(p); string(b) != "ZbcZ" {
		t.Errorf("after clearing APPEND: %q", b)
	}

	h.expectErrno(sys.EINVAL, "fd_fdstat_set_flags", fd, 32)
	h.expectErrno(sys.EINVAL, "fd_fdstat_set_flags", fd, 1<<16)
	h.expectErrno(sys.ENOTSUP, "fd_fdstat_set_flags", fd, uint64(sys.FdflagDsync))
	h.expectErrno(sys.EBADF, "fd_fdstat_set_flags", 99, 0)
	h.expectErrno(sys.ESUCCESS, "fd_fdstat_set_rights", fd, uint64(sys.RightFdRead), 0)
	h.expectErrno(sys.ENOTCAPABLE, "fd_fdstat_set_flags", fd, 0)
}

// APPEND on stdio must not change the host's file description, which the
// host (and the shell that redirected it) shares: it is emulated per write.
func TestFdFdstatSetFlagsSharedStdio(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out")
	if err := os.WriteFile(path, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	h := newHarness(t, Config{Stdout: out})
	hostFlags := func() int {
		fl, err := unix.FcntlInt(out.Fd(), unix.F_GETFL, 0)
		if err != nil {
			t.Fatal(err)
		}
		return fl
	}
	write := func(fn string, s string, extra ...uint64) {
		t.Helper()
		h.writeString(fsBuf, s)
		h.writeIovecs(fsIovs, [2]uint32{fsBuf, uint32(len(s))})
		args := append([]uint64{1, fsIovs, 1}, extra...)
		h.expectErrno(sys.ESUCCESS, fn, append(args, 100)...)
	}
	expectFile := func(want string) {
		t.Helper()
		if b, _ := os.ReadFile(path); string(b) != want {
			t.Errorf("file is %q, want %q", b, want)
		}
	}

	h.expectErrno(sys.ESUCCESS, "fd_fdstat_set_flags", 1, uint64(sys.FdflagAppend))
	if hostFlags()&unix.O_APPEND != 0 {
		t.Fatal("fd_fdstat_set_flags(APPEND) on stdout set O_APPEND on the host's description")
	}
	h.expectErrno(sys.ESUCCESS, "fd_fdstat_get", 1, 100)
	h.expectMem(102, []byte{byte(sys.FdflagAppend), 0})
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	write("fd_write", "Z")
	expectFile("abcZ")
	write("fd_pwrite", "P", 0) // appends regardless of the offset, as Linux does
	expectFile("abcZP")

	h.expectErrno(sys.ESUCCESS, "fd_fdstat_set_flags", 1, 0)
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	write("fd_write", "Y")
	expectFile("YbcZP")

	// A description the host opened for appending (the shell's >>) is
	// reported as APPEND, and cannot stop appending.
	app, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	h2 := newHarness(t, Config{Stdout: app})
	h2.expectErrno(sys.ESUCCESS, "fd_fdstat_get", 1, 100)
	h2.expectMem(102, []byte{byte(sys.FdflagAppend), 0})
	h2.expectErrno(sys.ENOTSUP, "fd_fdstat_set_flags", 1, 0)
	h2.expectErrno(sys.ESUCCESS, "fd_fdstat_set_flags", 1, uint64(sys.FdflagAppend|sys.FdflagNonblock))
}

func TestFdFdstatSetRights(t *testing.T) {
	h := newHarness(t, Config{})
	writeFile(t, h, "f", "")
	fd := uint64(fsOpen(h, "f", 0, sys.RightFdRead|sys.RightFdWrite|sys.RightFdSeek, 0))
	h.expectErrno(sys.ESUCCESS, "fd_fdstat_set_rights", fd, uint64(sys.RightFdRead|sys.RightFdSeek), 0)
	h.fill(fsMarker)
	h.expectErrno(sys.ESUCCESS, "fd_fdstat_get", fd, 100)
	h.expectMem(108, le64Bytes(uint64(sys.RightFdRead|sys.RightFdSeek)))
	h.expectErrno(sys.ENOTCAPABLE, "fd_fdstat_set_rights", fd, uint64(sys.RightFdRead|sys.RightFdWrite), 0)
	h.expectErrno(sys.ENOTCAPABLE, "fd_fdstat_set_rights", fd, 0, 1)
	h.expectErrno(sys.EBADF, "fd_fdstat_set_rights", 99, 0, 0)
	// Narrowing the preopen's inheriting rights narrows what it opens.
	h.expectErrno(sys.ESUCCESS, "fd_fdstat_set_rights", harnessPreopenFD,
		uint64(sys.RightsDirectory), uint64(sys.RightFdRead))
	fd2 := fsOpen(h, "f", 0, sys.RightsAll, 0)
	if f, _ := h.sys.Lookup(int32(fd2)); f.RightsBase != sys.RightFdRead {
		t.Errorf("rights = %x, want FD_READ", f.RightsBase)
	}
}

func TestFdRenumber(t *testing.T) {
	h := newHarness(t, Config{})
	writeFile(t, h, "f", "")
	fd := uint64(fsOpen(h, "f", 0, sys.RightsAll, 0))
	h.expectErrno(sys.EBADF, "fd_renumber", fd, 50)
	h.expectErrno(sys.EBADF, "fd_renumber", 50, fd)
	h.expectErrno(sys.ESUCCESS, "fd_renumber", fd, 1) // onto stdout
	h.fill(fsMarker)
	h.expectErrno(sys.ESUCCESS, "fd_fdstat_get", 1, 100)
	h.expectMem(100, []byte{byte(sys.FiletypeRegularFile)})
	h.expectErrno(sys.EBADF, "fd_fdstat_get", fd, 100)
	// Preopens can be moved too.
	h.expectErrno(sys.ESUCCESS, "fd_renumber", harnessPreopenFD, 0)
	h.expectErrno(sys.ESUCCESS, "fd_prestat_get", 0, 100)
	h.expectErrno(sys.EBADF, "fd_prestat_get", harnessPreopenFD, 100)
}

// direntBytes is the expected preview1 dirent for name.
func direntBytes(next, ino uint64, name string, ft sys.Filetype) []byte {
	b := make([]byte, 24, 24+len(name))
	binary.LittleEndian.PutUint64(b[0:], next)
	binary.LittleEndian.PutUint64(b[8:], ino)
	binary.LittleEndian.PutUint32(b[16:], uint32(len(name)))
	b[20] = byte(ft)
	return append(b, name...)
}

func TestFdReaddir(t *testing.T) {
	h := newHarness(t, Config{})
	dir := filepath.Join(h.dir, "d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, h, "d/file", "")
	fd := uint64(fsOpen(h, "d", 2, sys.RightFdReaddir, 0))

	// The expected listing, in the order the snapshot holds it.
	ents, errno := h.sys.Readdir(int32(fd), 0)
	if errno != 0 || len(ents) != 3 {
		t.Fatalf("Readdir = %v %v", ents, errno)
	}
	var all []byte
	for i, e := range ents {
		all = append(all, direntBytes(uint64(i+1), e.Ino, e.Name, e.Type)...)
	}

	h.fill(fsMarker)
	h.expectErrno(sys.ESUCCESS, "fd_readdir", fd, fsBuf, fsBufSize, 0, 100)
	h.expectMem(100, marked(le32Bytes(uint32(len(all))), 1))
	h.expectMem(fsBuf, marked(all, 1))

	// A buffer that ends inside the second header: filled exactly.
	cut := uint32(len(direntBytes(1, 0, ents[0].Name, 0)) + 10)
	h.fill(fsMarker)
	h.expectErrno(sys.ESUCCESS, "fd_readdir", fd, fsBuf, uint64(cut), 0, 100)
	h.expectMem(100, le32Bytes(cut))
	h.expectMem(fsBuf, marked(all[:cut], 1))

	// Resuming from cookie 2 gives the third entry only.
	third := direntBytes(3, ents[2].Ino, ents[2].Name, ents[2].Type)
	h.fill(fsMarker)
	h.expectErrno(sys.ESUCCESS, "fd_readdir", fd, fsBuf, fsBufSize, 2, 100)
	h.expectMem(100, le32Bytes(uint32(len(third))))
	h.expectMem(fsBuf, marked(third, 1))

	// Past the end: nothing.
	h.fill(fsMarker)
	h.expectErrno(sys.ESUCCESS, "fd_readdir", fd, fsBuf, fsBufSize, 3, 100)
	h.expectMem(100, le32Bytes(0))
	h.expectMem(fsBuf, []byte{fsMarker})
	// Zero-length buffer: nothing written but bufused.
	h.expectErrno(sys.ESUCCESS, "fd_readdir", fd, fsBuf, 0, 0, 100)
	h.expectMem(100, le32Bytes(0))

	file := uint64(fsOpen(h, "d/file", 0, sys.RightsAll, 0))
	h.expectErrno(sys.ENOTCAPABLE, "fd_readdir", file, fsBuf, 100, 0, 100)
	h.expectErrno(sys.EBADF, "fd_readdir", 99, fsBuf, 100, 0, 100)
}

// TestFdReaddirLarge lists 3000 entries through small buffers the way
// wasi-libc does: parse whole entries, resume at the last complete one's
// d_next, and grow the buffer when not even one entry fits.
func TestFdReaddirLarge(t *testing.T) {
	h := newHarness(t, Config{})
	const n = 3000
	// Hard links to one file: names are what is listed, and linking is
	// much cheaper than creating files on a slow disk.
	first := writeFile(t, h, "entry-with-a-longish-name-0", "")
	for i := 1; i < n; i++ {
		if err := os.Link(first, filepath.Join(h.dir, "entry-with-a-longish-name-"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	cookie, bufLen, calls := uint64(0), uint32(40), 0
	for {
		calls++
		if calls > 10*n {
			t.Fatal("fd_readdir does not make progress")
		}
		h.expectErrno(sys.ESUCCESS, "fd_readdir", harnessPreopenFD, fsBuf, uint64(bufLen), cookie, 100)
		used := h.u32(100)
		buf := h.read(fsBuf, used)
		complete := 0
		for len(buf) >= 24 {
			namlen := binary.LittleEndian.Uint32(buf[16:])
			if uint32(len(buf)) < 24+namlen {
				break
			}
			seen[string(buf[24:24+namlen])]++
			cookie = binary.LittleEndian.Uint64(buf)
			buf = buf[24+namlen:]
			complete++
		}
		if used < bufLen {
			break // end of directory
		}
		if complete == 0 {
			bufLen *= 2
		}
	}
	if len(seen) != n+2 {
		t.Errorf("saw %d distinct names, want %d", len(seen), n+2)
	}
	var dups []string
	for name, c := range seen {
		if c != 1 {
			dups = append(dups, name)
		}
	}
	sort.Strings(dups)
	if len(dups) > 0 {
		t.Errorf("names seen more than once: %v", dups)
	}
	for _, name := range []string{".", "..", "entry-with-a-longish-name-0", "entry-with-a-longish-name-2999"} {
		if seen[name] != 1 {
			t.Errorf("%q seen %d times", name, seen[name])
		}
	}
	t.Logf("%d calls, final buffer %d bytes", calls, bufLen)
}
