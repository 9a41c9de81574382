package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// TestReadonlyAndMaskedPaths: linux.readonlyPaths are read-only to the
// guest although the root is writable (the kernel says so: the WASI layer
// knows nothing of them), and linux.maskedPaths hide a file (it reads as
// empty) and a directory (it is empty); the host's files are unchanged.
func TestReadonlyAndMaskedPaths(t *testing.T) {
	needRoot(t)
	rt := testRuntime(t)
	b := bundle(t, guests.C(t, "tamper"), []string{
		"create", "/ro/new", "write", "/ro/f", "create", "/rw",
		"read", "/secret", "read", "/secretdir/f",
	}, false)
	rootfs := filepath.Join(b, "rootfs")
	for _, d := range []string{"ro", "secretdir"} {
		os.Mkdir(filepath.Join(rootfs, d), 0o755)
	}
	for _, f := range []string{"ro/f", "secret", "secretdir/f"} {
		os.WriteFile(filepath.Join(rootfs, f), []byte("host"), 0o644)
	}
	var spec specs.Spec
	raw, _ := os.ReadFile(filepath.Join(b, "config.json"))
	json.Unmarshal(raw, &spec)
	spec.Linux = &specs.Linux{ReadonlyPaths: []string{"/ro", "/missing"}, MaskedPaths: []string{"/secret", "/secretdir", "/missing"}}
	raw, _ = json.Marshal(&spec)
	os.WriteFile(filepath.Join(b, "config.json"), raw, 0o644)

	r, w, _ := os.Pipe()
	defer r.Close()
	c, err := rt.Create(context.Background(), "paths", b, CreateOpts{Stdout: w, Stderr: w})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(context.Background(), "paths"); err != nil {
		t.Fatal(err)
	}
	waitCode(t, c)
	var out bytes.Buffer
	out.ReadFrom(r)
	want := "create /ro/new errno 69\nwrite /ro/f errno 69\ncreate /rw ok\nread /secret errno 0\nread /secretdir/f errno 44"
	if got := strings.TrimSpace(out.String()); got != want {
		t.Errorf("guest reported:\n%s\nwant:\n%s", got, want)
	}
	for _, f := range []string{"ro/f", "secret", "secretdir/f"} {
		if b, err := os.ReadFile(filepath.Join(rootfs, f)); err != nil || string(b) != "host" {
			t.Errorf("%s on the host: %q, %v", f, b, err)
		}
	}
	if _, err := os.Stat(filepath.Join(rootfs, "ro", "new")); err == nil {
		t.Error("the guest created a file in a read-only path")
	}
}

// TestTmpfsMounts: only a spec's tmpfs mounts the guest can use become
// preopens, and only the tmpfs options pass: one that tries to slip
// another mount option in (a comma) or to make the tmpfs executable or
// setuid is dropped; /dev, /proc and /sys stay out.
func TestTmpfsMounts(t *testing.T) {
	dir := t.TempDir()
	spec := &specs.Spec{Mounts: []specs.Mount{
		{Type: "tmpfs", Destination: "/tmp", Options: []string{"size=4m,exec", "exec", "suid", "dev", "mode=1777", "nr_inodes=100", "ro"}},
		{Type: "tmpfs", Destination: "/run/../run/x", Options: []string{"size=1m"}},
		{Type: "tmpfs", Destination: "/dev"},
		{Type: "tmpfs", Destination: "/proc/sys"},
		{Type: "tmpfs", Destination: "/sys/fs/cgroup"},
		{Type: "tmpfs", Destination: "relative"},
		{Type: "bind", Source: dir, Destination: "/data"},
	}}
	mounts, preopens := tmpfsMounts(dir, spec)
	if len(mounts) != 2 || len(preopens) != 2 {
		t.Fatalf("mounts %v, preopens %v: want /tmp and /run/x only", mounts, preopens)
	}
	if m := mounts[0]; m.Data != "mode=1777,nr_inodes=100" || !m.ReadOnly || !strings.HasPrefix(m.Path, dir+"/") {
		t.Errorf("/tmp: %+v, want mode and nr_inodes only, read-only, under the state dir", m)
	}
	if p := preopens[1]; p.GuestPath != "/run/x" || p.HostPath != mounts[1].Path || mounts[1].Data != "size=1m" {
		t.Errorf("/run/x: preopen %+v, mount %+v", p, mounts[1])
	}
}

// TestSharedTmpfs: an exec process gets its container's tmpfs mounts only
// as the container process has them: a tmpfs at the path in that
// process's root, reached without following a link, while the process
// the state records still runs. A directory of the state that is no
// tmpfs (what the host has beneath the process's mount), a link put in
// its place, or a process that is gone fail the exec.
func TestSharedTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (mounts a tmpfs)")
	}
	r := &Runtime{Root: t.TempDir()}
	spec := &specs.Spec{Mounts: []specs.Mount{{Type: "tmpfs", Destination: "/tmp", Options: []string{"ro"}}}}
	_, preopens := tmpfsMounts(r.dir("c"), spec)
	dir := preopens[0].HostPath
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	st := &stateFile{Pid: os.Getpid(), PidTime: pidStartTime(os.Getpid())}

	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err == nil && fs.Type != unix.TMPFS_MAGIC {
		if d, err := r.sharedTmpfs("c", st, spec); err == nil {
			d[0].dir.Close()
			t.Error("a plain directory of the state was shared as the tmpfs")
		}
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	d, err := r.sharedTmpfs("c", st, spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != 1 || d[0].guestPath != "/tmp" || !d[0].readOnly {
		t.Errorf("shared %+v, want /tmp read-only", d)
	}
	for _, s := range d {
		s.dir.Close()
	}

	gone := *st
	gone.PidTime++
	if _, err := r.sharedTmpfs("c", &gone, spec); err == nil {
		t.Error("shared the tmpfs of a process the state does not record")
	}

	// A link in the tmpfs's place, to another tmpfs.
	other := filepath.Join(t.TempDir(), "other")
	if err := os.Mkdir(other, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", other, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(other, unix.MNT_DETACH) })
	if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(other, dir); err != nil {
		t.Fatal(err)
	}
	if d, err := r.sharedTmpfs("c", st, spec); !errors.Is(err, unix.ELOOP) {
		for _, s := range d {
			s.dir.Close()
		}
		t.Errorf("a link in the tmpfs's place: %v, want ELOOP", err)
	}
}

// TestOpenModuleSwapped: the module is read from what was checked: a
// directory of its path swapped for a link after ResolveModule (as a
// running guest may do to an exec of its module) makes openModule fail,
// never open the host's file the link leads to.
func TestOpenModuleSwapped(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	for _, d := range []string{filepath.Join(root, "real"), filepath.Join(outside, "real")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "real", "app.wasm"), []byte("\x00asmmine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "real", "app.wasm"), []byte("\x00asmhost"), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := &specs.Spec{Process: &specs.Process{Args: []string{"/real/app.wasm"}}}
	m, err := ResolveModule(root, spec)
	if err != nil {
		t.Fatal(err)
	}
	f, err := openModule(root, m)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 8)
	f.Read(b)
	f.Close()
	if string(b) != "\x00asmmine" {
		t.Fatalf("read %q, want the container's module", b)
	}
	if err := os.Rename(filepath.Join(root, "real"), filepath.Join(root, "bak")); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{filepath.Join(outside, "real"), "../../" + filepath.Base(outside) + "/real"} {
		link := filepath.Join(root, "real")
		os.Remove(link)
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		if f, err := openModule(root, m); err == nil {
			f.Read(b)
			f.Close()
			t.Errorf("link to %s in the module's path: opened, read %q", target, b)
		}
	}
}
