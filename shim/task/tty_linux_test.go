package task

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// TestTerminalStdio: a terminal's three streams are one pty slave, a
// resize reaches it, the guest's output reaches the stdout FIFO and the
// FIFO sees EOF once the slave is closed; a stream that is not a terminal
// cannot be resized, a terminal's output must be a FIFO, and a failure
// is an error (not a panic).
func TestTerminalStdio(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := unix.Mkfifo(out, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenFile(out, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, err := openProcessStdio("id", "ns", true, "", out, "")
	if err != nil {
		t.Fatal(err)
	}
	if s.Stdin != s.Stdout || s.Stdout != s.Stderr {
		t.Fatalf("a terminal's streams are not one: %v %v %v", s.Stdin, s.Stdout, s.Stderr)
	}
	if err := s.resize(97, 33); err != nil {
		t.Fatal(err)
	}
	ws, err := unix.IoctlGetWinsize(int(s.Stdout.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Col != 97 || ws.Row != 33 {
		t.Errorf("slave window %+v, %v, want 97x33", ws, err)
	}
	if _, err := s.Stdout.Write([]byte("hi\n")); err != nil {
		t.Fatal(err)
	}
	s.closeChildEnds() // the guest's side gone
	done := make(chan struct{})
	go func() { s.close(); close(done) }()
	select {
	case <-done:
	case <-time.After(outputDrainTimeout / 2):
		t.Fatal("close waited for the drain timeout: the master did not read EIO")
	}
	unix.SetNonblock(int(r.Fd()), false)
	b := make([]byte, 64)
	n, _ := r.Read(b)
	if string(b[:n]) != "hi\r\n" {
		t.Errorf("stdout FIFO got %q, want %q", b[:n], "hi\r\n")
	}

	plain, err := openProcessStdio("id", "ns", false, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.close()
	defer plain.closeChildEnds()
	if err := plain.resize(80, 25); !errors.Is(err, errNoTerminal) {
		t.Errorf("resize without a terminal: %v, want errNoTerminal", err)
	}
	for _, terminal := range []bool{false, true} { // a failure once made a nil *stdio's rollback panic
		if _, err := openProcessStdio("id", "ns", terminal, filepath.Join(dir, "missing"), "", ""); err == nil {
			t.Errorf("terminal %v: a missing stdin FIFO is no error", terminal)
		}
	}
	if _, err := openProcessStdio("id", "ns", true, "", "file://"+filepath.Join(dir, "log"), ""); !errors.Is(err, errdefs.ErrNotImplemented) {
		t.Errorf("a terminal to a file: %v, want not implemented", err)
	}
}
