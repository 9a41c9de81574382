// Command files exercises the file system functions in a preopened directory
// the way ordinary Go code does (package os), printing "ok STEP" for each
// check that passed and "FAIL STEP: why" for each that did not; it exits 1
// if anything failed.
//
//	files DIR N
//
// It works in DIR/work (created, must not exist) and leaves there:
// b.txt ("hello, world\n" then "more"), s -> b.txt, times.txt with
// atime 1000000000.5 and mtime 1234567890.123456789, and big/ with N files.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

var failed bool

func check(step string, err error) bool {
	if err != nil {
		failed = true
		fmt.Printf("FAIL %s: %v\n", step, err)
		return false
	}
	fmt.Printf("ok %s\n", step)
	return true
}

func expect(step string, cond bool, format string, args ...any) {
	if cond {
		check(step, nil)
	} else {
		check(step, fmt.Errorf(format, args...))
	}
}

func main() {
	dir := filepath.Join(os.Args[1], "work")
	n, _ := strconv.Atoi(os.Args[2])
	if !check("mkdir", os.Mkdir(dir, 0o755)) {
		os.Exit(1)
	}
	p := func(name string) string { return filepath.Join(dir, name) }

	// create, write, read back.
	f, err := os.OpenFile(p("a.txt"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if !check("create", err) {
		os.Exit(1)
	}
	_, err = f.Write([]byte("hello, world\n"))
	check("write", err)
	_, err = f.Seek(0, io.SeekStart)
	got, err2 := io.ReadAll(f)
	expect("read", err == nil && err2 == nil && string(got) == "hello, world\n", "got %q, %v, %v", got, err, err2)

	// seek and tell.
	off, err := f.Seek(7, io.SeekStart)
	buf := make([]byte, 5)
	_, err2 = io.ReadFull(f, buf)
	expect("seek", err == nil && err2 == nil && off == 7 && string(buf) == "world", "off %d %q %v %v", off, buf, err, err2)
	off, err = f.Seek(0, io.SeekCurrent)
	expect("tell", err == nil && off == 12, "tell %d %v", off, err)
	off, err = f.Seek(-6, io.SeekEnd)
	expect("seek_end", err == nil && off == 7, "off %d %v", off, err)

	// pread/pwrite do not move the offset.
	_, err = f.WriteAt([]byte("W"), 7)
	_, err2 = f.ReadAt(buf, 7)
	off, _ = f.Seek(0, io.SeekCurrent)
	expect("pwrite_pread", err == nil && err2 == nil && string(buf) == "World" && off == 7, "%q off %d %v %v", buf, off, err, err2)
	_, err = f.WriteAt([]byte("w"), 7)
	check("pwrite_restore", err)

	// truncate shorter and longer.
	err = f.Truncate(5)
	st, err2 := f.Stat()
	expect("truncate", err == nil && err2 == nil && st.Size() == 5, "size %v %v %v", st, err, err2)
	err = f.Truncate(100)
	st, err2 = f.Stat()
	b, _ := os.ReadFile(p("a.txt"))
	expect("extend", err == nil && err2 == nil && st.Size() == 100 && string(b[:5]) == "hello" && bytes.Count(b[5:], []byte{0}) == 95, "size %d %v %v", len(b), err, err2)
	err = f.Truncate(0)
	_, err2 = f.WriteAt([]byte("hello, world\n"), 0)
	expect("rewrite", err == nil && err2 == nil, "%v %v", err, err2)
	check("sync", f.Sync())
	check("close", f.Close())

	// append mode: writes go to the end whatever the offset.
	f, err = os.OpenFile(p("a.txt"), os.O_WRONLY|os.O_APPEND, 0)
	if check("open_append", err) {
		f.Seek(0, io.SeekStart)
		_, err = f.Write([]byte("more"))
		f.Close()
		b, _ = os.ReadFile(p("a.txt"))
		expect("append", err == nil && string(b) == "hello, world\nmore", "%q %v", b, err)
	}

	// O_EXCL on an existing file.
	_, err = os.OpenFile(p("a.txt"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	expect("excl", errors.Is(err, fs.ErrExist), "want EEXIST, got %v", err)
	_, err = os.Open(p("missing"))
	expect("enoent", errors.Is(err, fs.ErrNotExist), "want ENOENT, got %v", err)

	// rename.
	err = os.Rename(p("a.txt"), p("b.txt"))
	_, err2 = os.Stat(p("a.txt"))
	b, _ = os.ReadFile(p("b.txt"))
	expect("rename", err == nil && errors.Is(err2, fs.ErrNotExist) && string(b) == "hello, world\nmore", "%v %v %q", err, err2, b)

	// hard link: both names, nlink 2, same inode.
	err = os.Link(p("b.txt"), p("c.txt"))
	st1, e1 := os.Stat(p("b.txt"))
	st2, e2 := os.Stat(p("c.txt"))
	expect("link", err == nil && e1 == nil && e2 == nil && nlink(st1) == 2 && os.SameFile(st1, st2), "%v %v %v", err, e1, e2)

	// symlink, readlink, lstat vs stat, open through it.
	err = os.Symlink("b.txt", p("s"))
	target, err2 := os.Readlink(p("s"))
	expect("symlink", err == nil && err2 == nil && target == "b.txt", "%q %v %v", target, err, err2)
	lst, e1 := os.Lstat(p("s"))
	st, e2 = os.Stat(p("s"))
	expect("lstat", e1 == nil && e2 == nil && lst.Mode()&fs.ModeSymlink != 0 && st.Mode().IsRegular() && st.Size() == 17, "%v %v %v %v", lst, st, e1, e2)
	b, err = os.ReadFile(p("s"))
	expect("follow", err == nil && string(b) == "hello, world\nmore", "%q %v", b, err)

	// unlink drops the link count back.
	err = os.Remove(p("c.txt"))
	st, err2 = os.Stat(p("b.txt"))
	expect("unlink", err == nil && err2 == nil && nlink(st) == 1, "%v %v", err, err2)

	// mkdir, rmdir (not empty, then empty).
	err = os.Mkdir(p("d"), 0o755)
	st, err2 = os.Stat(p("d"))
	expect("mkdir_sub", err == nil && err2 == nil && st.IsDir(), "%v %v", err, err2)
	os.WriteFile(p("d/x"), nil, 0o644)
	err = syscall.Rmdir(p("d"))
	expect("rmdir_notempty", errors.Is(err, syscall.ENOTEMPTY), "want ENOTEMPTY, got %v", err)
	os.Remove(p("d/x"))
	err = syscall.Rmdir(p("d"))
	_, err2 = os.Stat(p("d"))
	expect("rmdir", err == nil && errors.Is(err2, fs.ErrNotExist), "%v %v", err, err2)

	// times: set, read back (nanoseconds).
	os.WriteFile(p("times.txt"), []byte("t"), 0o644)
	atime := time.Unix(1000000000, 500000000)
	mtime := time.Unix(1234567890, 123456789)
	err = os.Chtimes(p("times.txt"), atime, mtime)
	st, err2 = os.Stat(p("times.txt"))
	expect("times", err == nil && err2 == nil && st.ModTime().Equal(mtime) && atimeOf(st).Equal(atime), "%v %v %v", err, err2, st)

	// readdir of a directory with n entries: every name once.
	big := p("big")
	check("mkdir_big", os.Mkdir(big, 0o755))
	for i := 0; i < n; i++ {
		if err := os.WriteFile(filepath.Join(big, fmt.Sprintf("f%05d", i)), nil, 0o644); err != nil {
			check("create_many", err)
			break
		}
	}
	d, err := os.Open(big)
	seen := map[string]int{}
	if check("opendir", err) {
		for {
			ents, err := d.ReadDir(100)
			for _, e := range ents {
				seen[e.Name()]++
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				check("readdir", err)
				break
			}
		}
		d.Close()
	}
	bad := 0
	for i := 0; i < n; i++ {
		if seen[fmt.Sprintf("f%05d", i)] != 1 {
			bad++
		}
	}
	expect("readdir", bad == 0 && len(seen) == n, "%d names wrong, %d seen, want %d", bad, len(seen), n)

	if failed {
		os.Exit(1)
	}
	fmt.Println("done")
}

func nlink(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Nlink
	}
	return 0
}

func atimeOf(fi fs.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(0, int64(st.Atime))
	}
	return time.Time{}
}
