package native

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func spec(args ...string) *specs.Spec {
	return &specs.Spec{Process: &specs.Process{Args: args, Cwd: "/", Env: []string{"PATH=/usr/bin:/bin"}}}
}

// TestIsNative: what decides that a container is native: the file
// args[0] names in the root (by cwd, or on the spec's PATH) is a regular
// file that starts as an ELF binary or a script. Its symlinks are followed inside the root only: a root whose
// entrypoint links to a host file does not get that file read (an image
// cannot probe the host's files through the shim).
func TestIsNative(t *testing.T) {
	root := t.TempDir()
	host := t.TempDir() // outside the root
	write := func(dir, name, data string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(root, "app.wasm", "\x00asm\x01\x00\x00\x00")
	write(root, "bin/busybox", "\x7fELF\x02\x01\x01")
	write(root, "entrypoint.sh", "#!/bin/sh\necho hi\n")
	write(root, "short", "\x7f")
	write(root, "text", "hello, not a program\n")
	write(host, "host.elf", "\x7fELF\x02\x01\x01")
	if err := unix.Mkfifo(filepath.Join(root, "fifo"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Symlink("fifo", filepath.Join(root, "bin", "fifolink"))
	os.Symlink("busybox", filepath.Join(root, "bin", "sh"))
	os.Symlink(filepath.Join(host, "host.elf"), filepath.Join(root, "escape"))
	os.Symlink("../../../../../../.."+filepath.Join(host, "host.elf"), filepath.Join(root, "bin", "escape2"))
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"/app.wasm"}, false},
		{[]string{"app.wasm"}, false},
		{[]string{"/bin/busybox", "sh"}, true},
		{[]string{"/bin/sh", "-c", "true"}, true}, // a symlink inside the root
		{[]string{"sh"}, true},                    // on the spec's PATH
		{[]string{"/entrypoint.sh"}, true},        // a script is native too
		{[]string{"/missing"}, false},             // the wasm side reports it
		{[]string{"missing"}, false},
		{[]string{"/short"}, false}, // too short to tell: not run by runc
		{[]string{"/text"}, false},  // neither: "not a WebAssembly binary"
		{[]string{"/escape"}, false},
		{[]string{"escape2"}, false},
		{[]string{"/bin/escape2"}, false},
		// Not a regular file: neither opened for long nor run by runc
		// (a FIFO would hang the shim in open; the wasm side refuses
		// it as not a regular file).
		{[]string{"/fifo"}, false},
		{[]string{"fifolink"}, false},
		{[]string{"/dev/null"}, false},
	} {
		if got := IsNative(root, spec(c.args...)); got != c.want {
			t.Errorf("IsNative(%q) = %v, want %v", c.args, got, c.want)
		}
	}
	if IsNative(root, &specs.Spec{}) {
		t.Errorf("a spec without a process is native")
	}
}

// TestLookup: runc is found on PATH or by its configured path; a missing
// one is one clear error that says what to do.
func TestLookup(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "my-runc")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := Lookup(fake); err != nil || p != fake {
		t.Errorf("Lookup(%s) = %q, %v", fake, p, err)
	}
	missing := filepath.Join(dir, "nope")
	_, err := Lookup(missing)
	if err == nil || !errors.Is(err, errdefs.ErrFailedPrecondition) || !strings.Contains(err.Error(), "runc_path") || !strings.Contains(err.Error(), missing) {
		t.Errorf("Lookup(missing) = %v, want a FailedPrecondition naming runc_path and the path", err)
	}
	t.Setenv("PATH", dir)
	if _, err := Lookup("my-runc"); err != nil {
		t.Errorf("Lookup on PATH: %v", err)
	}
}
