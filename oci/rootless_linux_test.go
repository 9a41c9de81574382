package oci

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/wasmrun/wasmrun/cni"
	"github.com/wasmrun/wasmrun/internal/guests"
)

// The rootless tests need a caller without root. CI runs as root, so
// TestRootless copies this test binary and the guest into a directory
// everyone can read and runs the inner test in it as nobody (uid
// 65534); run directly as a non-root user, the inner test runs itself.

// rootlessEnv names the directory of the inner test's files (the guest,
// its state and a ports file; its cache is in $HOME, outside the guest's
// root); set only for the inner test.
const rootlessEnv = "WASMRUN_OCI_ROOTLESS_DIR"

const nobody = 65534

// userNamespacesOK skips t when this system gives unprivileged users no user
// namespaces.
func userNamespacesOK(t *testing.T) {
	t.Helper()
	if ok, reason := UserNamespacesAllowed(); !ok {
		t.Skipf("skipping: %s", reason)
	}
}

// worldDir makes a directory that nobody can read and write (t.TempDir's
// parent is private to root), removed at the end of the test.
func worldDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "wasmrun-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// Sticky, as /tmp is: the cache in it is a trusted one (package
	// trust).
	if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	return dir
}

func copyTo(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}

// TestRootless runs testRootlessInner as nobody: as root it re-runs this
// test in a copy of the test binary as nobody, where rootlessEnv is set.
func TestRootless(t *testing.T) {
	if os.Getenv(rootlessEnv) != "" {
		testRootlessInner(t)
		return
	}
	userNamespacesOK(t)
	dir := worldDir(t)
	copyTo(t, guests.Go(t, "netapp"), filepath.Join(dir, "netapp.wasm"), 0o644)
	if os.Geteuid() != 0 {
		t.Setenv(rootlessEnv, dir)
		t.Run("inner", testRootlessInner)
		return
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "oci.test")
	copyTo(t, self, bin, 0o755)
	cmd := exec.Command(bin, "-test.run=^TestRootless$", "-test.v", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), rootlessEnv+"="+dir, "HOME="+worldDir(t)) // not the guest's root: its cache would be within
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestRootless") {
		t.Fatalf("inner TestRootless as uid %d: %v\n%s", nobody, err, out)
	}
	t.Logf("inner TestRootless as uid %d:\n%s", nobody, out)
}

// testRootlessInner (run by TestRootless, as a user without root): a
// container of a spec that asks for a new namespace gets its own user and
// network namespace; a forward through the userspace forwarder reaches
// the guest's port on its loopback; the forward ends with the process.
func testRootlessInner(t *testing.T) {
	dir := os.Getenv(rootlessEnv)
	if dir == "" {
		t.Skip("run by TestRootless")
	}
	if os.Geteuid() == 0 {
		t.Fatal("the inner rootless test runs as root")
	}
	rt := &Runtime{Root: filepath.Join(dir, "state"), Log: t.Logf}
	port := freeTCPPort(t)
	fwd := Forward{HostIP: "127.0.0.1", HostPort: uint16(port), GuestPort: 3000}

	b := filepath.Join(dir, "bundle")
	if err := os.Mkdir(b, 0o700); err != nil {
		t.Fatal(err)
	}
	spec := &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: dir},
		Process: &specs.Process{Args: []string{"/netapp.wasm", "serve", ":3000"}, Env: []string{"APP_ID=inner"}, Cwd: "/"},
		Linux:   &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.NetworkNamespace}}},
	}
	j, _ := json.Marshal(spec)
	if err := os.WriteFile(filepath.Join(b, "config.json"), j, 0o600); err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer outR.Close()
	ctx := context.Background()

	// A taken host port fails Create before any process exists.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	taken := Forward{HostIP: "127.0.0.1", HostPort: uint16(busy.Addr().(*net.TCPAddr).Port), GuestPort: 3000}
	_, err = rt.Create(ctx, "busy", b, CreateOpts{Network: NetworkOpts{Forwards: []Forward{fwd, taken}}})
	busy.Close()
	if !errors.Is(err, cni.ErrPortInUse) {
		t.Fatalf("create with a taken port: %v, want ErrPortInUse", err)
	}
	if ids, _ := rt.List(); len(ids) != 0 {
		t.Fatalf("containers left after a failed create: %v", ids)
	}

	c, err := rt.Create(ctx, "rl", b, CreateOpts{
		Stdout: outW, Stderr: outW, CacheDir: filepath.Join(os.Getenv("HOME"), "cache"),
		Network: NetworkOpts{Forwards: []Forward{fwd}},
	})
	outW.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Delete(ctx, "rl", true)

	if rec, _ := rt.NetworkOf("rl"); rec.Mode != NetRootless {
		t.Errorf("network mode %q, want %q", rec.Mode, NetRootless)
	}
	nsPath := fmt.Sprintf("/proc/%d/ns/net", c.Pid)
	if inode(t, nsPath) == inode(t, "/proc/self/ns/net") {
		t.Error("the container process is in our network namespace")
	}
	if inode(t, fmt.Sprintf("/proc/%d/ns/user", c.Pid)) == inode(t, "/proc/self/ns/user") {
		t.Error("the container process is in our user namespace")
	}
	if m, _ := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", c.Pid)); strings.Join(strings.Fields(string(m)), " ") != fmt.Sprintf("0 %d 1", os.Geteuid()) {
		t.Errorf("uid_map %q, want our uid %d as 0", m, os.Geteuid())
	}
	var st stateFile
	if sb, err := os.ReadFile(filepath.Join(rt.Root, "rl", "state.json")); err != nil || json.Unmarshal(sb, &st) != nil || st.Net.Path != nsPath {
		t.Errorf("state records namespace %q, want %q (%v)", st.Net.Path, nsPath, err)
	}

	if err := rt.Start(ctx, "rl"); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewReader(outR)
	if l, err := lines.ReadString('\n'); err != nil || !strings.HasPrefix(l, "listening") {
		t.Fatalf("guest output %q, %v", l, err)
	}
	for i := 0; i < 2; i++ { // two connections: one dial socket pair serves both
		conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprintf(conn, "ping%d\n", i)
		r := bufio.NewReader(conn)
		hello, _ := r.ReadString('\n')
		echo, err := r.ReadString('\n')
		conn.Close()
		if hello != "hello inner\n" || echo != fmt.Sprintf("ping%d\n", i) {
			t.Fatalf("through the forward: %q %q, %v", hello, echo, err)
		}
	}

	if err := rt.Kill("rl", syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waitCode(t, c); code != 128+int(syscall.SIGTERM) {
		t.Errorf("exit code %d, want %d", code, 128+int(syscall.SIGTERM))
	}
	// The forwarder stopped with the process: the host port is free.
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Errorf("host port %d after exit: %v", port, err)
	} else {
		l.Close()
	}
	if err := rt.Delete(ctx, "rl", false); err != nil {
		t.Fatal(err)
	}
	if ids, _ := rt.List(); len(ids) != 0 {
		t.Errorf("containers left: %v", ids)
	}
	io.Copy(io.Discard, outR)
}

// TestUserspaceFallback: as root with forwards but no CNI plugins, the
// named namespace gets loopback only and the forward goes through the
// userspace forwarder (entering the namespace with setns).
func TestUserspaceFallback(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	rt := &Runtime{Root: filepath.Join(dir, "containers"), Log: t.Logf, Network: NetworkConfig{
		Prefix:             fmt.Sprintf("wru%d", os.Getpid()%100000),
		StateDir:           filepath.Join(dir, "netns-state"),
		CacheDir:           filepath.Join(dir, "cni-cache"),
		FallbackPluginDirs: []string{filepath.Join(dir, "no-plugins")},
		Log:                t.Logf,
	}}
	t.Cleanup(func() { rt.Delete(context.Background(), "fb", true) })
	port := freeTCPPort(t)
	b := bundle(t, guests.Go(t, "netapp"), []string{"serve", ":3000"}, true)
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer outR.Close()
	ctx := context.Background()
	c, err := rt.Create(ctx, "fb", b, CreateOpts{
		Stdout: outW, Stderr: outW, CacheDir: filepath.Join(os.Getenv("HOME"), "cache"),
		Network: NetworkOpts{Forwards: []Forward{{HostIP: "127.0.0.1", HostPort: uint16(port), GuestPort: 3000}}},
	})
	outW.Close()
	if err != nil {
		t.Fatal(err)
	}
	if rec, _ := rt.NetworkOf("fb"); rec.Mode != NetOwnUserspace {
		t.Errorf("network mode %q, want %q", rec.Mode, NetOwnUserspace)
	}
	nsPath := filepath.Join("/run/netns", nsName(rt, "fb"))
	if inode(t, fmt.Sprintf("/proc/%d/ns/net", c.Pid)) != inode(t, nsPath) {
		t.Errorf("the container process is not in %s", nsPath)
	}
	if err := rt.Start(ctx, "fb"); err != nil {
		t.Fatal(err)
	}
	if l, err := bufio.NewReader(outR).ReadString('\n'); err != nil || !strings.HasPrefix(l, "listening") {
		t.Fatalf("guest output %q, %v", l, err)
	}
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	hello, err := bufio.NewReader(conn).ReadString('\n')
	conn.Close()
	if !strings.HasPrefix(hello, "hello") {
		t.Fatalf("through the forward: %q, %v", hello, err)
	}
	rt.Kill("fb", syscall.SIGKILL)
	waitCode(t, c)
	if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
		t.Errorf("host port %d after exit: %v", port, err)
	} else {
		l.Close()
	}
	if err := rt.Delete(ctx, "fb", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(nsPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("namespace %s left after delete: %v", nsPath, err)
	}
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
