package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/wasmrun/wasmrun/internal/guests"
	"github.com/wasmrun/wasmrun/internal/testdaemon"
)

// testShimReadOnly: through ctr, --read-only makes the rootfs read-only and
// a bind mount with options rbind:ro is read-only too: a guest changing
// either gets EROFS and they are unchanged; a rw mount stays writable.
func testShimReadOnly(t *testing.T, d *testdaemon.Daemon, rootfs string) {
	ro, rw := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(ro, "f"), "data")
	rootBefore, roBefore := treeHash(t, rootfs), treeHash(t, ro)
	mounts := []string{"--read-only",
		"--mount", "type=bind,src=" + ro + ",dst=/data,options=rbind:ro",
		"--mount", "type=bind,src=" + rw + ",dst=/rw,options=rbind:rw"}
	out, code := ctrRun(t, d, rootfs, newID("ro"), mounts,
		"write", "/app.wasm", "create", "/new", "read", "/data/f", "write", "/data/f", "unlink", "/data/f",
		"link", "/data/f", "/rw/l", "create", "/rw/ok")
	want := strings.Join([]string{
		"write /app.wasm errno " + wasiEROFS, "create /new errno " + wasiEROFS, "read /data/f ok",
		"write /data/f errno " + wasiEROFS, "unlink /data/f errno " + wasiEROFS,
		"link /data/f /rw/l errno " + wasiEROFS, "create /rw/ok ok"}, "\n")
	if code != 0 || strings.TrimSpace(out) != want {
		t.Errorf("exit %d, guest reported:\n%s\nwant:\n%s", code, out, want)
	}
	if treeHash(t, rootfs) != rootBefore || treeHash(t, ro) != roBefore {
		t.Error("the read-only rootfs or mount changed")
	}
	if _, err := os.Stat(filepath.Join(rw, "ok")); err != nil {
		t.Errorf("the rw mount: %v", err)
	}
}

// testShimUser: the guest runs as the spec's user with the spec's
// capabilities. ctr --user (containerd 2.x's ctr) makes what it creates in
// a writable mount that user's; with ctr's default capabilities the guest
// may write another user's private file (CAP_DAC_OVERRIDE, as under runc),
// and with --cap-drop CAP_DAC_OVERRIDE it may not.
func testShimUser(t *testing.T, d *testdaemon.Daemon) {
	rootfs := readableApp(t, map[string]string{"app.wasm": guests.C(t, "tamper")})
	rw := readableApp(t, nil)
	if err := os.Chmod(rw, 0o777); err != nil {
		t.Fatal(err)
	}
	others := filepath.Join(rw, "others")
	writeFile(t, others, "private")
	if err := os.Chown(others, 4000, 4000); err != nil {
		t.Fatal(err)
	}
	os.Chmod(others, 0o600)
	mount := []string{"--mount", "type=bind,src=" + rw + ",dst=/rw,options=rbind:rw"}
	for _, tc := range []struct {
		name  string
		flags []string
		want  string
	}{
		{"default capabilities", nil, "write /rw/others ok"},
		{"CAP_DAC_OVERRIDE dropped", []string{"--cap-drop", "CAP_DAC_OVERRIDE"}, "write /rw/others errno 2"},
	} {
		out, code := ctrRun(t, d, rootfs, newID("caps"), append(tc.flags, mount...), "write", "/rw/others")
		if code != 0 || strings.TrimSpace(out) != tc.want {
			t.Errorf("%s: exit %d, guest reported %q, want %q", tc.name, code, out, tc.want)
		}
	}
	if d.Bin.ConfigVersion < 3 {
		return // containerd 1.6's ctr has no --user
	}
	out, code := ctrRun(t, d, rootfs, newID("user"), append([]string{"--user", "4321:4322"}, mount...), "create", "/rw/mine")
	if code != 0 || strings.TrimSpace(out) != "create /rw/mine ok" {
		t.Errorf("--user: exit %d, guest reported %q", code, out)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(rw, "mine"), &st); err != nil || st.Uid != 4321 || st.Gid != 4322 {
		t.Errorf("the guest's file: %v, owner %d:%d, want 4321:4322", err, st.Uid, st.Gid)
	}
}

// testShimPrivateRoot: the task's process, root with ctr's default
// capabilities, has a root of its own once set up (see TestOSPrivateRoot):
// its rootfs and mounts, and nothing else of the host's.
func testShimPrivateRoot(t *testing.T, d *testdaemon.Daemon) {
	rootfs := readableApp(t, map[string]string{"app.wasm": guests.C(t, "idle")})
	data, other := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(data, "f"), "data")
	writeFile(t, filepath.Join(other, "secret"), "secret")
	pid := startDetached(t, d, rootfs, newID("root"), []string{"--mount", "type=bind,src=" + data + ",dst=/data,options=rbind:ro"}, "600s")
	root := fmt.Sprintf("/proc/%d/root", pid)
	if _, err := os.Stat(filepath.Join(root, data, "f")); err != nil {
		t.Errorf("the task's mount is not in its root: %v", err)
	}
	for _, p := range []string{"/etc/passwd", "/etc/shadow", "/root", "/usr", "/var/lib", other} {
		if _, err := os.Lstat(filepath.Join(root, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the host's %s is in the task's root (%v)", p, err)
		}
	}
	plantIn(t, root)
}

// testShimMemoryLimit: ctr --memory-limit bounds the task: a guest that
// takes all the memory it can gets less than the limit (its share beside
// the runtime's) and ends normally instead of being OOM-killed, inside the
// task's cgroup.
func testShimMemoryLimit(t *testing.T, d *testdaemon.Daemon) {
	rootfs := readableApp(t, map[string]string{"app.wasm": guests.C(t, "hog")})
	out, code := ctrRun(t, d, rootfs, newID("mem"), []string{"--memory-limit", strconv.Itoa(128 << 20)}, "mem")
	var mib int
	if _, err := fmt.Sscanf(out, "mem %d MiB", &mib); code != 0 || err != nil || mib < 32 || mib >= 128 {
		t.Errorf("with --memory-limit 128 MiB: exit %d, guest reported %q (want 32-127 MiB)", code, out)
	}
}

// testShimTmpfsMount: a tmpfs mount of the spec (ctr --mount type=tmpfs,
// nerdctl --tmpfs) is a tmpfs for the guest, of the size asked: a guest
// that writes all it can there gets ENOSPC at that size, and nothing
// reaches the rootfs directory it covers. Before, the guest wrote into the
// rootfs (here 64 MiB).
func testShimTmpfsMount(t *testing.T, d *testdaemon.Daemon) {
	rootfs := readableApp(t, map[string]string{"app.wasm": guests.C(t, "hog")})
	if err := os.Mkdir(filepath.Join(rootfs, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	out, code := ctrRun(t, d, rootfs, newID("tmpfs"), []string{"--mount", "type=tmpfs,src=tmpfs,dst=/tmp,options=size=4m:mode=1777"}, "tmp")
	var mib, errno int
	if _, err := fmt.Sscanf(out, "tmp %d MiB errno %d", &mib, &errno); err != nil || code != 0 || mib > 4 || errno != 51 {
		t.Errorf("with a 4 MiB tmpfs at /tmp: exit %d, guest reported %q; want at most 4 MiB, then ENOSPC (WASI errno 51)", code, out)
	}
	if _, err := os.Stat(filepath.Join(rootfs, "tmp", "hog")); !os.IsNotExist(err) {
		t.Errorf("the guest's file reached the rootfs (%v)", err)
	}
}

// testShimExecTmpfs: an exec process shares its container's tmpfs mounts
// (they are mounts of the container process's own namespace): what it
// writes in /tmp is in the container process's tmpfs, another exec
// process reads it, nothing reaches the rootfs directory beneath, and a
// read-only tmpfs stays read-only. Before, an exec process had the
// rootfs's /tmp, and wrote there.
func testShimExecTmpfs(t *testing.T, d *testdaemon.Daemon) {
	rootfs := readableApp(t, map[string]string{"app.wasm": guests.C(t, "idle"), "tamper.wasm": guests.C(t, "tamper")})
	for _, dir := range []string{"tmp", "ro"} {
		if err := os.Mkdir(filepath.Join(rootfs, dir), 0o1777); err != nil {
			t.Fatal(err)
		}
	}
	id := newID("extmp")
	pid := startDetached(t, d, rootfs, id, []string{
		"--mount", "type=tmpfs,src=tmpfs,dst=/tmp,options=size=4m:mode=1777",
		"--mount", "type=tmpfs,src=tmpfs,dst=/ro,options=ro:size=1m",
	}, "600s")
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	exec := func(execID string, args ...string) string {
		out, stderr, err := d.Ctr(ctx, append([]string{"task", "exec", "--exec-id", execID, id, "/tamper.wasm"}, args...)...)
		if err != nil {
			t.Fatalf("ctr task exec %v: %v\n%s", args, err, stderr)
		}
		return strings.TrimSpace(out)
	}
	if out := exec("w", "create", "/tmp/f", "create", "/ro/g"); out != "create /tmp/f ok\ncreate /ro/g errno 69" {
		t.Errorf("exec process: %q, want /tmp/f made and /ro/g refused (EROFS, 69)", out)
	}
	if out := exec("r", "read", "/tmp/f"); out != "read /tmp/f ok" {
		t.Errorf("a second exec process: %q, want it to read /tmp/f", out)
	}
	if _, err := os.Stat(filepath.Join(rootfs, "tmp", "f")); !os.IsNotExist(err) {
		t.Errorf("the exec process's file reached the rootfs (%v)", err)
	}
	// The container process's own /tmp: its tmpfs mount of 4 MiB (the
	// default spec has tmpfs mounts too), seen from the host through its
	// root.
	mounts, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	at := ""
	for _, l := range lines(string(mounts)) {
		if f := strings.Fields(l); len(f) > 4 && strings.Contains(f[4], "/tmpfs/") && strings.Contains(l, " - tmpfs tmpfs rw,size=4096k") {
			at = f[4]
		}
	}
	if at == "" {
		t.Fatalf("no tmpfs of the container process:\n%s", mounts)
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/root%s/f", pid, at)); err != nil || string(b) != "x" {
		t.Errorf("the container process's tmpfs lacks the exec process's file: %q, %v", b, err)
	}
}

// testShimSeccomp: the spec's seccomp profile binds the guest. ctr's
// default profile (--seccomp) lets a normal guest run; a profile that
// refuses unlinkat makes the guest's unlink fail with EPERM while the rest
// works, and the file stays. A spec without a profile gets the container
// process's default filter.
func testShimSeccomp(t *testing.T, d *testdaemon.Daemon) {
	rootfs := readableApp(t, map[string]string{"app.wasm": guests.C(t, "tamper")})
	rw := readableApp(t, nil)
	writeFile(t, filepath.Join(rw, "f"), "keep")
	profile := filepath.Join(t.TempDir(), "profile.json")
	writeFile(t, profile, `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["unlink", "unlinkat"], "action": "SCMP_ACT_ERRNO"}]}`)
	mount := []string{"--mount", "type=bind,src=" + rw + ",dst=/rw,options=rbind:rw"}
	for _, tc := range []struct {
		name  string
		flags []string
		want  string
	}{
		{"default profile", []string{"--seccomp"}, "read /rw/f ok\ncreate /rw/g ok"},
		{"unlink refused", []string{"--seccomp", "--seccomp-profile", profile}, "read /rw/f ok\nunlink /rw/f errno 63"},
	} {
		args := []string{"read", "/rw/f", "create", "/rw/g"}
		if tc.name == "unlink refused" {
			args = []string{"read", "/rw/f", "unlink", "/rw/f"}
		}
		out, code := ctrRun(t, d, rootfs, newID("sec"), append(tc.flags, mount...), args...)
		if code != 0 || strings.TrimSpace(out) != tc.want {
			t.Errorf("%s: exit %d, guest reported %q, want %q", tc.name, code, out, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(rw, "f")); err != nil {
		t.Errorf("the file the profile protects: %v", err)
	}
	// Without --seccomp: the container process's default filter.
	idle := readableApp(t, map[string]string{"app.wasm": guests.C(t, "idle")})
	pid := startDetached(t, d, idle, newID("secdef"), nil, "600s")
	if st := procStatus(t, pid); st["Seccomp"] != "2" || st["Seccomp_filters"] != "2" {
		t.Errorf("a task without a profile: Seccomp %q, Seccomp_filters %q, want 2 and 2 (the default filter and no new processes)", st["Seccomp"], st["Seccomp_filters"])
	}
}
