// Package testpty opens pseudo-terminals for tests, without cgo: a master
// from /dev/ptmx and its slave under /dev/pts.
package testpty

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// Open returns a new pseudo-terminal's master and slave ends, both
// close-on-exec (give the slave to a child through exec.Cmd's streams).
// The master is closed when the test ends; the slave is the caller's to
// close. A system without pseudo-terminals skips the test.
func Open(t testing.TB) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("skipping: no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open pty slave: %v", err)
	}
	return master, slave
}

// Output is what reaches a terminal, read from its master until every
// process has closed the slave.
type Output struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
}

// Read reads master (through a copy of the descriptor: the caller may
// close its own) into an Output, from now on.
func Read(t testing.TB, master *os.File) *Output {
	t.Helper()
	fd, err := unix.Dup(int(master.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	unix.CloseOnExec(fd)
	o := &Output{done: make(chan struct{})}
	go func() {
		defer close(o.done)
		f := os.NewFile(uintptr(fd), "ptmx")
		defer f.Close()
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			o.mu.Lock()
			o.buf.Write(buf[:max(n, 0)])
			o.mu.Unlock()
			if err != nil {
				return // EIO once every process closed the slave
			}
		}
	}()
	return o
}

// String is what has reached the terminal so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// Done is closed once the terminal has been read to its end.
func (o *Output) Done() <-chan struct{} { return o.done }
