package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// TestInProcess runs an app the way `wasmrun os` does on macOS (in this
// process, simulated isolation, state files for ps and stop): its forward
// reaches its port, ps lists it with its port table, a second app of the
// same name is refused, and nothing is left once it ends.
func TestInProcess(t *testing.T) {
	wasm, err := os.ReadFile(guests.Go(t, "netapp"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "app.wasm"), wasm, 0o644))
	must(os.WriteFile(filepath.Join(dir, ConfigName), []byte("[network]\nisolation = \"simulated\"\n"), 0o644))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	fwd := l.Addr().(*net.TCPAddr).Port
	l.Close()
	o, err := parseOS([]string{"--name", "inproc", "--forward", fmt.Sprintf("127.0.0.1:%d:8080", fwd), "--env", "APP_ID=inproc", "--no-cache", dir, "--", "serve", ":8080"})
	must(err)
	a, err := resolveApp(o)
	must(err)
	root := t.TempDir()

	r, w, err := os.Pipe()
	must(err)
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := runInProcess(ctx, a, o, root, true, nil, w, w)
		w.Close()
		done <- result{code, err}
	}()
	waitListening(t, r)

	var ps bytes.Buffer
	psInProcess(root, &ps)
	if !strings.Contains(ps.String(), "inproc") || !strings.Contains(ps.String(), "simulated:8080/tcp=127.0.0.1:") {
		t.Errorf("ps:\n%s\nwant app inproc with its port 8080 on the host's loopback", ps.String())
	}
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", fwd), 5*time.Second)
	must(err)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	greet, err := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if greet != "hello inproc\n" {
		t.Errorf("through the forward: %q (%v), want hello inproc", greet, err)
	}
	if _, err := runInProcess(ctx, a, o, root, true, nil, nil, nil); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("a second app named inproc: %v, want already running", err)
	}

	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the app did not stop when its context ended")
	}
	if left, _ := filepath.Glob(filepath.Join(root, "*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", fwd)); err == nil {
		c.Close()
		t.Errorf("the forward still accepts connections after the app ended")
	}
}

// TestInProcessConfined: an in-process app reaches no host service on
// loopback (a port it does not hold is refused, whoever holds it), and no
// file outside its app directory, whatever path it names.
func TestInProcessConfined(t *testing.T) {
	wasm, err := os.ReadFile(guests.Go(t, "netapp"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.wasm"), wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigName), []byte("[network]\nisolation = \"simulated\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(filepath.Dir(dir), "secret-"+filepath.Base(dir))
	if err := os.WriteFile(secret, []byte("top secret content"), 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(secret)
	host, err := net.Listen("tcp", "127.0.0.1:0") // a host service
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	go func() {
		for {
			c, err := host.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	run := func(args ...string) (int, string) {
		t.Helper()
		o, err := parseOS(append([]string{"--no-cache", dir, "--"}, args...))
		if err != nil {
			t.Fatal(err)
		}
		a, err := resolveApp(o)
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.CreateTemp(t.TempDir(), "out")
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		code, err := runInProcess(context.Background(), a, o, t.TempDir(), false, nil, out, out)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(out.Name())
		return code, string(b)
	}
	if code, out := run("dial", host.Addr().String()); code != 3 || !strings.Contains(out, "refused") {
		t.Errorf("dial the host's %s: exit %d, %q; want refused", host.Addr(), code, out)
	}
	for _, p := range []string{"/../" + filepath.Base(secret), "../" + filepath.Base(secret), secret} {
		if code, out := run("cat", p); code == 0 || strings.Contains(out, "top secret content") {
			t.Errorf("cat %s: exit %d, %q; want a refusal", p, code, out)
		}
	}

	// A link-local service that is not the host's (a cloud's metadata
	// service at 169.254.169.254 is one): here a listener in a namespace
	// of the test's, behind a veth whose host end has 169.254.x.1. The
	// app is refused it, as any app is (procnet.AlwaysBlocked).
	if os.Geteuid() != 0 {
		return
	}
	meta := linkLocalService(t)
	if code, out := run("dial", meta.Addr().String()); code == 0 || strings.Contains(out, "connected") {
		t.Errorf("dial the link-local %s: exit %d, %q; want a refusal", meta.Addr(), code, out)
	}
}

// linkLocalService listens on 169.254.N.2 in a network namespace of its
// own, reachable from the host over a veth whose host end is 169.254.N.1;
// all is removed when t ends.
func linkLocalService(t *testing.T) net.Listener {
	t.Helper()
	n := os.Getpid() % 250
	name, veth := fmt.Sprintf("wll%d", os.Getpid()), fmt.Sprintf("wll%dh", os.Getpid())
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() }) // takes the veth with it
	ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name)
	ip("addr", "add", fmt.Sprintf("169.254.%d.1/24", n), "dev", veth)
	ip("link", "set", veth, "up")
	ip("-n", name, "addr", "add", fmt.Sprintf("169.254.%d.2/24", n), "dev", "eth0")
	ip("-n", name, "link", "set", "eth0", "up")
	var l net.Listener
	err := ns.WithNetNSPath("/run/netns/"+name, func(ns.NetNS) (err error) {
		l, err = net.Listen("tcp", fmt.Sprintf("169.254.%d.2:0", n))
		return err
	})
	if err != nil {
		t.Fatalf("listen in the test's namespace: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l
}

// TestInProcessUDPForward: a UDP --forward reaches an in-process app's UDP
// port and brings its answer back.
func TestInProcessUDPForward(t *testing.T) {
	wasm, err := os.ReadFile(guests.Go(t, "netapp"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "app.wasm"), wasm, 0o644)
	os.WriteFile(filepath.Join(dir, ConfigName), []byte("[network]\nisolation = \"simulated\"\n"), 0o644)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fwd := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	o, err := parseOS([]string{"--forward", fmt.Sprintf("127.0.0.1:%d:9000/udp", fwd), "--env", "APP_ID=udpapp", "--no-cache", dir, "--", "udp", ":9000"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := resolveApp(o)
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		runInProcess(ctx, a, o, t.TempDir(), true, nil, w, w)
		w.Close()
		close(done)
	}()
	defer func() { cancel(); <-done }()
	waitListening(t, r)
	c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", fwd))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("ping"))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if got := string(buf[:max(n, 0)]); got != "udpapp: ping" {
		t.Errorf("through the UDP forward: %q (%v), want \"udpapp: ping\"", got, err)
	}
}

// TestStopInProcess: stop ends an in-process app's process (SIGTERM) and
// removes its state file and /tmp; ps forgets an app whose process is gone.
func TestStopInProcess(t *testing.T) {
	root := t.TempDir()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep command:", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	for name, pid := range map[string]int{"app": cmd.Process.Pid, "gone": 1 << 30} {
		if err := writeState(filepath.Join(root, name+".json"), &inProcessState{Name: name, Pid: pid}); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(appTmpDir(root, name), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	var ps bytes.Buffer
	psInProcess(root, &ps)
	if !strings.Contains(ps.String(), "app") || strings.Contains(ps.String(), "gone") {
		t.Errorf("ps:\n%s\nwant app listed, gone not", ps.String())
	}
	if found, err := stopInProcess(root, "app", 5*time.Second); !found || err != nil {
		t.Fatalf("stop app = %v, %v", found, err)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the app's process still runs after stop")
	}
	if found, _ := stopInProcess(root, "app", time.Second); found {
		t.Error("stop of a stopped app found it")
	}
	if left, _ := filepath.Glob(filepath.Join(root, "*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// waitListening reads the app's output until it says it listens (a slow
// compile is said first).
func waitListening(t *testing.T, r *os.File) {
	t.Helper()
	sc := bufio.NewScanner(r)
	var seen []string
	for sc.Scan() {
		if strings.Contains(sc.Text(), "listening") {
			return
		}
		seen = append(seen, sc.Text())
	}
	t.Fatalf("the app never said it listens; it said %q", seen)
}
