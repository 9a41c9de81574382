package inherited

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCloseOnExec: a descriptor the program inherited without
// close-on-exec does not reach a process it starts after CloseOnExec,
// and stays usable by the program itself.
func TestCloseOnExec(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "secret")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil { // as inherited
		t.Fatal(err)
	}
	children := func() string {
		out, err := exec.Command("sh", "-c", "ls -l /proc/self/fd/").CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return string(out)
	}
	if !strings.Contains(children(), f.Name()) {
		t.Fatal("the test's descriptor does not reach a child to begin with")
	}
	CloseOnExec()
	if out := children(); strings.Contains(out, f.Name()) {
		t.Errorf("a child still gets %s after CloseOnExec:\n%s", f.Name(), out)
	}
	if _, err := unix.Write(fd, []byte("x")); err != nil {
		t.Errorf("the program's own descriptor: %v", err)
	}
}
