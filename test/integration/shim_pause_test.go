package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/guests"
	"github.com/wasmrun/wasmrun/internal/testdaemon"
)

// TestShimPause pauses and resumes a wasm HTTP server with ctr under each
// containerd release: paused, it answers nothing (a request on a new
// connection gets no byte before a read deadline), `ctr task ls` shows
// PAUSED and containerd gets TaskPaused; resumed, the waiting request is
// answered and new ones too. A paused task still dies of `ctr task kill`
// (SIGTERM: the shim thaws it after the signal), and so does one whose
// shim was killed. A task without a cgroup is refused with a clear error.
func TestShimPause(t *testing.T) {
	needRootShim(t)
	httpd := rootfsWith(t, guests.Go(t, "sockhttp"))
	for _, v := range shimDaemons {
		t.Run(v.name, func(t *testing.T) {
			d := startShimDaemon(t, v.bin(t))
			t.Run("pause_resume_kill", func(t *testing.T) { testShimPauseResume(t, d, httpd) })
			t.Run("no_cgroup", func(t *testing.T) { testShimPauseNoCgroup(t, d, httpd) })
			t.Run("shim_killed_while_paused", func(t *testing.T) { testShimKilledPaused(t, d, httpd) })
		})
	}
}

func testShimPauseResume(t *testing.T, d *testdaemon.Daemon, rootfs string) {
	id := newID("pause")
	events := watchEvents(t, d)
	pid := startHTTPTask(t, d, rootfs, id, nil)
	netns := fmt.Sprintf("/proc/%d/ns/net", pid)
	if resp := getIn(t, netns, "/before"); !strings.HasSuffix(resp, "hello /before") {
		t.Fatalf("before pause: %q", resp)
	}

	d.MustCtr(t, "task", "pause", id)
	if ti := taskList(t, d)[id]; ti.status != "PAUSED" || ti.pid != pid {
		t.Fatalf("ctr task ls after pause: %+v, want pid %d PAUSED", ti, pid)
	}
	// The kernel still completes the handshake (the listening socket is
	// open), but nobody reads the request while the guest is frozen.
	c, err := dialIn(netns, "127.0.0.1:8080")
	if err != nil {
		t.Fatalf("connect while paused: %v", err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /while-paused HTTP/1.0\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
	n, err := c.Read(make([]byte, 1))
	var ne net.Error
	if n != 0 || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("paused server answered: read %d bytes, %v (want a timeout)", n, err)
	}
	if _, _, err := d.Ctr(t.Context(), "task", "pause", id); err == nil || !strings.Contains(err.Error(), "already paused") {
		t.Errorf("second pause: %v, want 'already paused'", err)
	}

	d.MustCtr(t, "task", "resume", id)
	if ti := taskList(t, d)[id]; ti.status != "RUNNING" {
		t.Fatalf("ctr task ls after resume: %+v, want RUNNING", ti)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if b, err := io.ReadAll(c); err != nil || !strings.HasSuffix(string(b), "hello /while-paused") {
		t.Fatalf("the request sent while paused, after resume: %q, %v", b, err)
	}
	if resp := getIn(t, netns, "/after"); !strings.HasSuffix(resp, "hello /after") {
		t.Fatalf("after resume: %q", resp)
	}
	events.want(t, "/tasks/paused", id)
	events.want(t, "/tasks/resumed", id)

	// A paused task still ends when killed (SIGTERM here: any signal that
	// ends a process).
	d.MustCtr(t, "task", "pause", id)
	d.MustCtr(t, "task", "kill", id)
	waitTask(t, d, id, "stopped", stopped)
	waitPidGone(t, pid)
	d.MustCtr(t, "task", "delete", id)
	d.MustCtr(t, "container", "rm", id)
}

// testShimPauseNoCgroup: `ctr run --cgroup ""` gives the task no cgroup;
// pause says why it cannot, and the task runs on.
func testShimPauseNoCgroup(t *testing.T, d *testdaemon.Daemon, rootfs string) {
	id := newID("pausenocg")
	pid := startHTTPTask(t, d, rootfs, id, []string{"--cgroup", ""})
	_, stderr, err := d.Ctr(t.Context(), "task", "pause", id)
	if err == nil || !strings.Contains(stderr, "has no cgroup") || !strings.Contains(stderr, "cgroupsPath") {
		t.Errorf("pause of a task without a cgroup: %v\n%s", err, stderr)
	}
	if ti := taskList(t, d)[id]; ti.status != "RUNNING" {
		t.Errorf("after the refused pause: %+v, want RUNNING", ti)
	}
	if resp := getIn(t, fmt.Sprintf("/proc/%d/ns/net", pid), "/still"); !strings.HasSuffix(resp, "hello /still") {
		t.Errorf("after the refused pause: %q", resp)
	}
	killTask(t, d, id, pid)
}

// testShimKilledPaused: the shim dies (SIGKILL) while its task is
// paused; the task's frozen process, which on cgroup v1 acts on the
// SIGKILL of its death signal only once thawed, is ended by the delete
// action containerd runs, and the container goes.
func testShimKilledPaused(t *testing.T, d *testdaemon.Daemon, rootfs string) {
	id := newID("pausekill")
	pid := startHTTPTask(t, d, rootfs, id, nil)
	killShimWhilePaused(t, d, id, pid)
	if !waitUntil(30*time.Second, 20*time.Millisecond, func() bool {
		_, err := os.Stat(netnsPath(id))
		return os.IsNotExist(err)
	}) {
		t.Fatalf("%s left after the shim was killed", netnsPath(id))
	}
}

// killShimWhilePaused pauses task id (process pid), kills its shim,
// waits until the delete action has removed the process and containerd
// has the task stopped or gone, and removes the container.
func killShimWhilePaused(t *testing.T, d *testdaemon.Daemon, id string, pid int) {
	t.Helper()
	d.MustCtr(t, "task", "pause", id)
	if err := syscall.Kill(ppid(t, pid), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitPidGone(t, pid)
	waitTask(t, d, id, "stopped or gone", stopped)
	d.Ctr(t.Context(), "task", "delete", id) // may already be gone
	d.MustCtr(t, "container", "rm", id)
}

// startHTTPTask starts the sockhttp guest at /app.wasm of rootfs serving
// 127.0.0.1:8080 in task id (ctr run -d with extra flags), waits until it
// listens and returns its pid. The task is removed at the end.
func startHTTPTask(t *testing.T, d *testdaemon.Daemon, rootfs, id string, extra []string) int {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.log")
	pid := startDetached(t, d, rootfs, id, append([]string{"--log-uri", "file://" + out}, extra...), "serve", "127.0.0.1:8080")
	var b []byte
	waitUntil(time.Minute, 20*time.Millisecond, func() bool {
		b, _ = os.ReadFile(out)
		return strings.Contains(string(b), "listening 8080\n") || pidGone(pid)
	})
	if !strings.Contains(string(b), "listening 8080\n") {
		t.Fatalf("guest did not listen:\n%s", b)
	}
	return pid
}

// getIn GETs path from the server on 127.0.0.1:8080 in the namespace
// netns and returns the raw response.
func getIn(t *testing.T, netns, path string) string {
	t.Helper()
	c, err := dialIn(netns, "127.0.0.1:8080")
	if err != nil {
		t.Fatalf("connect in %s: %v", netns, err)
	}
	resp, err := httpGetConn(c, path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp
}

// eventLog is the output of a `ctr events` running for the test.
type eventLog struct {
	mu    sync.Mutex
	lines []string
}

// watchEvents runs `ctr events` until the end of the test.
func watchEvents(t *testing.T, d *testdaemon.Daemon) *eventLog {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := d.CtrCommand(ctx, "events")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	l := &eventLog{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			l.mu.Lock()
			l.lines = append(l.lines, sc.Text())
			l.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		<-done
	})
	return l
}

// want waits until an event of topic naming id has arrived and returns
// its line ("" when none came).
func (l *eventLog) want(t *testing.T, topic, id string) string {
	t.Helper()
	var event string
	found := func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, line := range l.lines {
			if strings.Contains(line, " "+topic+" ") && strings.Contains(line, id) {
				event = line
				return true
			}
		}
		return false
	}
	if !waitUntil(10*time.Second, 20*time.Millisecond, found) {
		l.mu.Lock()
		defer l.mu.Unlock()
		t.Errorf("no %s event for %s; events:\n%s", topic, id, strings.Join(l.lines, "\n"))
	}
	return event
}
