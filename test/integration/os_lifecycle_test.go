package integration

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// TestOSCycles: 100 run/stop cycles (every 10th with a forward, every 4th
// stopped with `wasmrun stop` while it runs, the rest exiting by
// themselves), up to four at a time, leave no namespace, veth, DNAT rule, IPAM
// lease, state or process behind.
func TestOSCycles(t *testing.T) {
	t.Parallel()
	requireCNI(t)
	e := newOSEnv(t)
	dir := e.app1(guests.C(t, "idle"))
	const cycles, workers = 100, 4
	var mu sync.Mutex
	var ports []int
	start := time.Now()
	t.Run("cycles", func(t *testing.T) {
		for w := range workers {
			t.Run(fmt.Sprint("worker", w), func(t *testing.T) {
				t.Parallel()
				e := e.with(t)
				for i := w; i < cycles; i += workers {
					name := fmt.Sprint("c", i)
					switch {
					case i%10 == 0:
						port := freePort(t, "tcp")
						mu.Lock()
						ports = append(ports, port)
						mu.Unlock()
						r := e.run("os", "--name", name, "--forward", fmt.Sprintf("%d:80", port), dir, "--", "0ms")
						mustExit(t, r, 0)
					case i%4 == 1:
						r := e.start("--verbose", "--name", name, dir, "--", "60s")
						r.waitFor("running as pid")
						if s := e.run("stop", name); s.code != 0 {
							t.Fatalf("cycle %d: wasmrun stop: exit %d: %s\nwasmrun os stdout:\n%s\nstderr:\n%s", i, s.code, s.stderr, r.stdout, r.stderr)
						}
						if code := r.wait(); code != 143 {
							t.Fatalf("cycle %d: exit code %d after wasmrun stop, want 143\nstderr:\n%s", i, code, r.stderr)
						}
					default:
						r := e.run("os", "--name", name, dir, "--", "0ms")
						mustExit(t, r, 0)
						if r.stdout != "done\n" {
							t.Fatalf("cycle %d: stdout %q, want %q", i, r.stdout, "done\n")
						}
					}
				}
			})
		}
	})
	t.Logf("%d cycles in %v", cycles, time.Since(start).Round(time.Millisecond))
	e.noLeaks(ports...)
}

// TestOSKill9: after kill -9 of `wasmrun os`, the guest dies with it
// (Pdeathsig) and its namespace, state, DNAT rules and lease stay behind;
// the next run of the same prefix removes all of them. `wasmrun ps` shows
// such an app as stopped, and `wasmrun stop` of it cleans it up.
func TestOSKill9(t *testing.T) {
	t.Parallel()
	requireCNI(t)
	e := newOSEnv(t)
	dir := e.app1(guests.Go(t, "netapp"))
	port := freePort(t, "tcp")
	k := e.start("--name", "k", "--forward", fmt.Sprintf("%d:8080", port), dir, "--", "serve", ":8080")
	s := e.start("--name", "s", dir, "--", "serve", ":8080")
	for _, r := range []*osRun{k, s} {
		r.waitFor("listening 0.0.0.0:8080")
	}
	pids := []int{e.containerState("k").Pid, e.containerState("s").Pid}
	for _, r := range []*osRun{k, s} {
		r.signal(syscall.SIGKILL)
		if code := r.wait(); code != 137 {
			t.Fatalf("wasmrun os: exit code %d after SIGKILL, want 137", code)
		}
	}
	for _, pid := range pids {
		waitExit(t, pid)
	}

	left := strings.Join(e.leaks(port), "\n")
	for _, want := range []string{
		"namespace /run/netns/" + e.prefix + "-k", "namespace /run/netns/" + e.prefix + "-s",
		"state containers/k", "state containers/s", "IPAM lease", fmt.Sprintf("dport %d", port),
	} {
		if !strings.Contains(left, want) {
			t.Errorf("after kill -9, expected a leftover %q; left:\n%s", want, left)
		}
	}

	ps := e.run("ps")
	mustExit(t, ps, 0)
	if l := lines(ps.stdout); len(l) != 3 || !strings.Contains(ps.stdout, "\nk ") || !strings.Contains(ps.stdout, "\ns ") {
		t.Errorf("wasmrun ps after kill -9: want a header and the apps k and s, got:\n%s", ps.stdout)
	}
	for _, l := range lines(ps.stdout)[1:] {
		if f := strings.Fields(l); len(f) < 3 || f[1] != "-" || f[2] != "stopped" {
			t.Errorf("wasmrun ps line %q: want pid - and status stopped", l)
		}
	}
	stop := e.run("stop", "s")
	mustExit(t, stop, 0)
	if fileExists(e.netns("s")) || fileExists(filepath.Join(e.state, "containers", "s")) {
		t.Errorf("wasmrun stop s of a crashed run left its namespace or state")
	}

	next := e.run("os", "--verbose", "--name", "next", e.app1(guests.C(t, "idle")), "--", "0ms")
	mustExit(t, next, 0)
	if !strings.Contains(next.stderr, "removed leftovers of container k") {
		t.Errorf("the next run did not report removing container k:\n%s", next.stderr)
	}
	e.noLeaks(port)
}

// waitExit waits until process pid has exited (reaped or a zombie).
func waitExit(t testing.TB, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // gone
	}
	defer unix.Close(fd)
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(pfd, int(osTimeout/time.Millisecond))
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			t.Fatalf("process %d still runs after %v (poll: %v)", pid, osTimeout, err)
		}
		return
	}
}

// TestOSNetnsCookie: the guest process (every thread) is in the app's
// namespace /run/netns/<prefix>-<id>, and so is its listening socket:
// SO_NETNS_COOKIE of the socket, taken from the process with pidfd_getfd,
// equals that of a socket made inside the namespace, not the host's.
func TestOSNetnsCookie(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	r := e.start("--name", "ck", e.app1(guests.Go(t, "netapp")), "--", "serve", ":8080")
	r.waitFor("listening 0.0.0.0:8080")
	pid := e.containerState("ck").Pid
	nsPath := e.netns("ck")

	want := inode(t, nsPath)
	if host := inode(t, "/proc/self/ns/net"); host == want {
		t.Fatalf("the app's namespace %s is the host's", nsPath)
	}
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/ns/net", pid))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("no threads of %d: %v", pid, err)
	}
	for _, task := range append([]string{fmt.Sprintf("/proc/%d/ns/net", pid)}, tasks...) {
		if got := inode(t, task); got != want {
			t.Errorf("%s is namespace %s, want %s (%s)", task, got, want, nsPath)
		}
	}

	fd := listeningFD(t, pid, 8080)
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pidfd)
	sock, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		t.Fatalf("pidfd_getfd %d of %d: %v", fd, pid, err)
	}
	defer unix.Close(sock)
	got := cookie(t, sock)

	var inside uint64
	if err := ns.WithNetNSPath(nsPath, func(ns.NetNS) error {
		s, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(s)
		inside = cookie(t, s)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(s)
	host := cookie(t, s)
	if got != inside || got == host {
		t.Errorf("SO_NETNS_COOKIE of the guest's listener %d, of a socket in %s %d, of a host socket %d", got, nsPath, inside, host)
	}
	r.signal(syscall.SIGTERM)
	r.wait()
	e.noLeaks()
}

func inode(t testing.TB, path string) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

func cookie(t testing.TB, fd int) uint64 {
	t.Helper()
	c, err := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
	if err != nil {
		t.Fatalf("getsockopt SO_NETNS_COOKIE: %v", err)
	}
	return c
}

// listeningFD finds the fd number, in process pid, of its TCP socket
// listening on port: the inode from /proc/<pid>/net/tcp{,6} (which shows
// the process's namespace), matched against /proc/<pid>/fd.
func listeningFD(t testing.TB, pid, port int) int {
	t.Helper()
	var ino string
	for _, f := range []string{"tcp", "tcp6"} {
		file, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, f))
		if err != nil {
			t.Fatal(err)
		}
		s := bufio.NewScanner(file)
		for s.Scan() {
			fl := strings.Fields(s.Text())
			// sl local_address rem_address st ... inode (field 9)
			if len(fl) < 10 || fl[3] != "0A" {
				continue
			}
			if _, p, ok := strings.Cut(fl[1], ":"); ok && p == fmt.Sprintf("%04X", port) {
				ino = fl[9]
			}
		}
		file.Close()
	}
	if ino == "" {
		t.Fatalf("process %d has no TCP listener on port %d in its namespace", pid, port)
	}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); l == "socket:["+ino+"]" {
			n, _ := strconv.Atoi(fd.Name())
			return n
		}
	}
	t.Fatalf("no fd of process %d is socket inode %s", pid, ino)
	return -1
}

// TestOSSignals: SIGINT and SIGTERM to `wasmrun os` stop the guest (it gets
// the same signal: 130 and 143, as a native program) and tear everything
// down; the guest's exit code is wasmrun's.
func TestOSSignals(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	idle := e.app1(guests.C(t, "idle"))
	t.Run("group", func(t *testing.T) {
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
			t.Run(sig.String(), func(t *testing.T) {
				t.Parallel()
				e := e.with(t)
				name := "sig" + strconv.Itoa(int(sig))
				r := e.start("--verbose", "--name", name, idle, "--", "60s")
				r.waitFor("running as pid")
				r.signal(sig)
				if code, want := r.wait(), 128+int(sig); code != want {
					t.Errorf("exit code %d after %v, want %d (the guest ended by the same signal)\nstderr:\n%s", code, sig, want, r.stderr)
				}
				if fileExists(e.netns(name)) {
					t.Errorf("%s still exists after wasmrun exited", e.netns(name))
				}
			})
		}
		// A terminal's Ctrl-C signals the whole foreground process group:
		// wasmrun and the container process both get SIGINT.
		t.Run("ctrl-c", func(t *testing.T) {
			t.Parallel()
			e := e.with(t)
			r := e.startCmd(func(c *exec.Cmd) { c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} },
				"--verbose", "--name", "ctrlc", idle, "--", "60s")
			r.waitFor("running as pid")
			if err := syscall.Kill(-r.cmd.Process.Pid, syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			if code := r.wait(); code != 130 && code != 143 {
				t.Errorf("exit code %d after Ctrl-C, want 130 (SIGINT) or 143 (SIGTERM)\nstderr:\n%s", code, r.stderr)
			}
			if fileExists(e.netns("ctrlc")) {
				t.Errorf("%s still exists after wasmrun exited", e.netns("ctrlc"))
			}
		})
		t.Run("exit7", func(t *testing.T) {
			t.Parallel()
			e := e.with(t)
			r := e.run("os", "--name", "exit7", e.app1(guests.C(t, "args_env_exit")), "--", "7")
			mustExit(t, r, 7)
		})
	})
	e.noLeaks()
}

// TestOSPsStop: `wasmrun ps` lists the running app (id, pid, status,
// namespace, forwards, module); `wasmrun stop ID` stops it.
func TestOSPsStop(t *testing.T) {
	t.Parallel()
	requireCNI(t)
	e := newOSEnv(t)
	dir := e.app1(guests.Go(t, "netapp"))
	port := freePort(t, "tcp")
	r := e.start("--name", "web", "--forward", fmt.Sprintf("%d:8080", port), dir, "--", "serve", ":8080")
	r.waitFor("listening 0.0.0.0:8080")

	ps := e.run("ps")
	mustExit(t, ps, 0)
	ls := lines(ps.stdout)
	if len(ls) != 2 || strings.Join(strings.Fields(ls[0]), " ") != "ID PID STATUS INSTANCES NAMESPACE FORWARDS MODULE" {
		t.Fatalf("wasmrun ps:\n%s", ps.stdout)
	}
	want := []string{"web", strconv.Itoa(e.containerState("web").Pid), "running", "1", e.prefix + "-web",
		fmt.Sprintf("%d:8080/tcp", port), filepath.Join(dir, "app.wasm")}
	if got := strings.Fields(ls[1]); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("wasmrun ps line %q, want fields %q", ls[1], want)
	}

	stop := e.run("stop", "web")
	mustExit(t, stop, 0)
	if stop.stdout != "web\n" {
		t.Errorf("wasmrun stop: stdout %q, want %q", stop.stdout, "web\n")
	}
	if code := r.wait(); code != 143 {
		t.Errorf("wasmrun os: exit code %d after wasmrun stop, want 143", code)
	}
	ps = e.run("ps")
	mustExit(t, ps, 0)
	if len(lines(ps.stdout)) != 1 {
		t.Errorf("wasmrun ps after stop:\n%s", ps.stdout)
	}
	e.noLeaks(port)

	bad := e.run("stop", "nosuch")
	mustExit(t, bad, ExitFailure)
	if !strings.Contains(bad.stderr, "nosuch") {
		t.Errorf("wasmrun stop nosuch: stderr %q does not name the app", bad.stderr)
	}
}

// TestOSStopWhileCreating: `wasmrun stop` of an app whose module is still
// compiling waits for its process and stops it; nothing is left.
func TestOSStopWhileCreating(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	// --no-cache: the container process compiles the Go guest (seconds),
	// while the state says "creating".
	r := e.start("--no-cache", "--name", "slow", e.app1(guests.Go(t, "netapp")), "--", "serve", ":8080")
	statePath := filepath.Join(e.state, "containers", "slow", "state.json")
	exited := false
	if !waitUntil(time.Minute, 10*time.Millisecond, func() bool {
		select {
		case <-r.done:
			exited = true
		default:
		}
		return exited || fileExists(statePath)
	}) || exited {
		t.Fatalf("wasmrun os did not create its state (exited: %v, code %d)\nstderr:\n%s", exited, r.code, r.stderr)
	}
	if pid := e.containerState("slow").Pid; pid != 0 {
		// Then this is an ordinary stop, and the test does not test its case.
		t.Errorf("the module compiled (pid %d) before the test could stop it while creating", pid)
	}
	stop := e.run("stop", "--time", "60s", "slow")
	mustExit(t, stop, 0)
	if code := r.wait(); code != 143 {
		t.Errorf("wasmrun os: exit code %d after wasmrun stop, want 143\nstderr:\n%s", code, r.stderr)
	}
	e.noLeaks()
}
