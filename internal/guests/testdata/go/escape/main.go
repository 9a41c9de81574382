// Command escape tries to leave its preopened directory in every way a path
// can, and prints one line per attempt: "CASE ok" when it succeeded (only
// expected for the cases that stay inside) or "CASE errno N" with the WASI
// errno it got. The test creates the links first:
//
//	DIR/inside.txt, DIR/sub/            plain file and directory
//	DIR/abslink  -> HOST/outside.txt    absolute symlink (host path)
//	DIR/rellink  -> ../outside.txt      relative symlink leaving DIR
//	DIR/dirlink  -> ..                  directory symlink leaving DIR
//	DIR/loop1 -> loop2, DIR/loop2 -> loop1
//	DIR/dangling -> ../created.txt      for creating through a link
//	DIR/inlink   -> sub/../inside.txt   stays inside: must work
//
// With "escape DIR race N" it instead reads DIR/race/target.txt N times while
// the test swaps DIR/race between a directory and a symlink to outside, and
// prints "race inside=I outside=O errors=E".
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

func report(name string, err error) {
	var errno syscall.Errno
	switch {
	case err == nil:
		fmt.Printf("%s ok\n", name)
	case errors.As(err, &errno):
		fmt.Printf("%s errno %d\n", name, int(errno))
	default:
		fmt.Printf("%s error %v\n", name, err)
	}
}

func main() {
	dir := os.Args[1]
	if len(os.Args) > 3 && os.Args[2] == "race" {
		race(dir, os.Args[3])
		return
	}
	p := func(name string) string { return dir + "/" + name }

	// Go cleans paths lexically before they reach the host, so ".." and
	// absolute paths are tried relative to a directory fd, as openat(2).
	d, err := os.Open(dir)
	if err != nil {
		report("opendir", err)
		os.Exit(1)
	}
	dfd := int(d.Fd())
	openat := func(name string) error {
		fd, err := syscall.Openat(dfd, name, syscall.O_RDONLY, 0)
		if err == nil {
			syscall.Close(fd)
		}
		return err
	}
	open := func(name string) error {
		f, err := os.Open(name)
		if err == nil {
			f.Close()
		}
		return err
	}

	report("dotdot", openat("../outside.txt"))
	report("subdotdot", openat("sub/../../outside.txt"))
	report("absolute", openat("/etc/passwd"))
	report("abslink", open(p("abslink")))
	report("rellink", open(p("rellink")))
	report("dirlink", open(p("dirlink/outside.txt")))
	report("loop", open(p("loop1")))
	f, err := os.OpenFile(p("dangling"), os.O_WRONLY|os.O_CREATE, 0o644)
	if err == nil {
		f.Close()
	}
	report("create_through", err)
	report("mkdir_through", os.Mkdir(p("dirlink/newdir"), 0o755))
	_, err = os.Stat(p("abslink"))
	report("stat_abslink", err)
	_, err = os.Lstat(p("abslink"))
	report("lstat_abslink", err)
	report("inlink", open(p("inlink")))
	report("inside", openat("sub/../inside.txt"))
}

func race(dir, count string) {
	n, _ := strconv.Atoi(count)
	var inside, outside, errs int
	for i := 0; i < n; i++ {
		b, err := os.ReadFile(dir + "/race/target.txt")
		switch {
		case err != nil:
			errs++
		case string(b) == "inside":
			inside++
		default:
			outside++
		}
	}
	fmt.Printf("race inside=%d outside=%d errors=%d\n", inside, outside, errs)
}
