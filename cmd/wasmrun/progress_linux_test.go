package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/internal/runner"
)

// openPty returns a pseudo-terminal's master and slave ends.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
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
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty slave: %v", err)
	}
	return master, slave
}

// TestSlowCompileNotice: with the threshold lowered, a first compile is
// reported in one line when stderr is a terminal, and not at all when it is
// a file.
func TestSlowCompileNotice(t *testing.T) {
	wasm := buildGuest(t)
	defer func(d time.Duration) { runner.SlowCompile = d }(runner.SlowCompile)
	runner.SlowCompile = time.Nanosecond

	r := call(t, "run", "--cache-dir", t.TempDir(), wasm)
	if r.code != 42 || r.stderr != "" {
		t.Errorf("stderr not a terminal: %+v, want exit 42 and nothing on stderr", r)
	}

	master, slave := openPty(t)
	out, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cache := t.TempDir()
	code := run([]string{"run", "--cache-dir", cache, wasm}, nil, out, slave)
	slave.Close()
	var buf bytes.Buffer
	io.Copy(&buf, master) // ends with EIO once the slave is closed and drained
	if code != 42 {
		t.Errorf("exit code %d, want 42", code)
	}
	notice := strings.TrimRight(buf.String(), "\r\n")
	if strings.ContainsAny(notice, "\r\n") {
		t.Errorf("notice %q: want one line", notice)
	}
	for _, want := range []string{"wasmrun: compiled " + wasm, "KiB", "cached in " + cache} {
		if !strings.Contains(notice, want) {
			t.Errorf("notice %q does not contain %q", notice, want)
		}
	}
}
