package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/internal/guests"
	"github.com/wasmrun/wasmrun/internal/testdaemon"
	"github.com/wasmrun/wasmrun/internal/testpty"
)

// TestShimTerminal runs `ctr run -t` and `ctr task exec -t` of the C
// guest tty under each containerd release, ctr itself on a pty the test
// opened (ctr wants a terminal for -t): the guest sees terminals on fds
// 0, 1 and 2, its output and the echo of what the test types arrive, and
// the terminal's size follows ctr's (ctr sends ResizePty at start and on
// SIGWINCH), as read from the host on the pty the guest holds; ^C at the
// terminal interrupts the guest (its controlling terminal). Nothing is
// left behind.
func TestShimTerminal(t *testing.T) {
	needRootShim(t)
	rootfs := rootfsWith(t, guests.C(t, "idle"))
	b, err := os.ReadFile(guests.C(t, "tty"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(rootfs, "tty.wasm"), string(b))
	for _, v := range shimDaemons {
		t.Run(v.name, func(t *testing.T) {
			d := startShimDaemon(t, v.bin(t))
			t.Run("run", func(t *testing.T) {
				id := newID("tty")
				defer func() {
					if l := shimLeftovers(id); len(l) > 0 {
						t.Errorf("left behind: %v", l)
						removeLeftovers(id)
					}
				}()
				defer removeTask(t, d, id)
				r := startCtrOnPty(t, d, "run", "--rm", "-t", "--runtime", shimRuntime, "--rootfs", rootfs, id, "/tty.wasm")
				pid := waitTask(t, d, id, "running", running).pid
				testTerminal(t, r, pid, false)
			})
			// The pty is the guest's controlling terminal: ^C typed at
			// it interrupts the guest (SIGINT to the terminal's
			// foreground process group: the container process's).
			t.Run("interrupt", func(t *testing.T) {
				id := newID("ttyc")
				defer func() {
					if l := shimLeftovers(id); len(l) > 0 {
						t.Errorf("left behind: %v", l)
						removeLeftovers(id)
					}
				}()
				defer removeTask(t, d, id)
				r := startCtrOnPty(t, d, "run", "--rm", "-t", "--runtime", shimRuntime, "--rootfs", rootfs, id, "/tty.wasm")
				r.waitFor(t, "tty in=")
				if _, err := r.master.Write([]byte{3}); err != nil {
					t.Fatal(err)
				}
				if code := r.wait(t); code != 130 {
					t.Errorf("ctr exited with %d after ^C, want 130 (SIGINT)\n%q\n%s", code, r.output(), r.stderr.String())
				}
			})
			t.Run("exec", func(t *testing.T) {
				id := newID("ttyx")
				startDetached(t, d, rootfs, id, nil, "600s")
				r := startCtrOnPty(t, d, "task", "exec", "-t", "--exec-id", "tty", id, "/tty.wasm")
				testTerminal(t, r, execPid(t, d, id, "tty"), false)
			})
			// Someone else (root on the host) keeps the guest's pty open:
			// the master never reads EIO; the exit still ends the copy
			// after a bounded wait for the last output, and ctr exits.
			t.Run("exec_slave_held", func(t *testing.T) {
				id := newID("ttyh")
				startDetached(t, d, rootfs, id, nil, "600s")
				r := startCtrOnPty(t, d, "task", "exec", "-t", "--exec-id", "tty", id, "/tty.wasm")
				testTerminal(t, r, execPid(t, d, id, "tty"), true)
			})
		})
	}
}

// TestCRIExecTerminal: `crictl exec -it` of the C guest tty in a wasm
// container of a CRI pod, crictl on a pty of the test's, under each
// containerd release: as TestShimTerminal's exec.
func TestCRIExecTerminal(t *testing.T) {
	needRootShim(t)
	idle, err := os.ReadFile(guests.C(t, "idle"))
	if err != nil {
		t.Fatal(err)
	}
	tty, err := os.ReadFile(guests.C(t, "tty"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range criDaemons {
		t.Run(v.name, func(t *testing.T) {
			e := startCRI(t, v.bin(t), v.octet)
			const ref = "docker.io/wasmrun/tty:test"
			e.d.ImportImage(t, testdaemon.CRINamespace, ref, []testdaemon.ImageFile{
				{Name: "app.wasm", Mode: 0o755, Data: idle}, {Name: "tty.wasm", Mode: 0o755, Data: tty},
			}, []string{"/app.wasm"}, nil, nil)
			p := e.runPod(t, "tty")
			cid := e.container(t, p, "idle", 0, ref, []string{"600s"}, nil)
			ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
			defer cancel()
			r := startOnTerminal(t, exec.CommandContext(ctx, e.crictlBin, "--config", filepath.Join(e.d.Dir, "crictl.yaml"), "exec", "-it", cid, "/tty.wasm"))
			r.waitFor(t, "tty in=")
			// The exec's container process: the one with cid as an
			// argument on a pty other than crictl's.
			ours, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/0", r.pid))
			pid := 0
			waitUntil(10*time.Second, 20*time.Millisecond, func() bool {
				for _, p := range processesOf(cid) {
					if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/0", p)); p != r.pid && l != ours && strings.HasPrefix(l, "/dev/pts/") {
						pid = p
					}
				}
				return pid > 0
			})
			if pid == 0 {
				t.Fatalf("no exec process on a pty of its own:\n%q", r.output())
			}
			testTerminal(t, r, pid, false)
		})
	}
}

// TestCRIAttachTerminal: `crictl attach -it` (kubectl attach -it, and
// kubectl run -it) to a wasm container made with a terminal: the guest's
// pty takes crictl's window size and follows it, and a line typed on
// crictl's terminal reaches the guest, whose exit ends the attach.
func TestCRIAttachTerminal(t *testing.T) {
	needRootShim(t)
	tty := guests.C(t, "tty")
	for _, v := range criDaemons {
		t.Run(v.name, func(t *testing.T) {
			e := startCRI(t, v.bin(t), v.octet)
			const ref = "docker.io/wasmrun/tty:test"
			e.importWasm(t, ref, tty)
			p := e.runPod(t, "attachtty")
			cid := e.containerWith(t, p, "tty", 0, ref, nil, nil, map[string]any{"stdin": true, "tty": true})
			// Its first line came before anyone attached: it is in the log.
			e.waitLog(t, cid, "tty in=1 out=1 err=1")
			pid := e.inspect(t, cid).Info.Pid
			ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
			defer cancel()
			r := startOnTerminal(t, exec.CommandContext(ctx, e.crictlBin, "--config", filepath.Join(e.d.Dir, "crictl.yaml"), "attach", "-it", cid))
			testTerminalIO(t, r, pid, false)
			if s := e.waitExited(t, cid); s.Status.ExitCode != 0 {
				t.Errorf("exit code %d, want 0", s.Status.ExitCode)
			}
			e.crictl(t, "stopp", p.id)
			e.crictl(t, "rmp", p.id)
			e.checkNoLeaks(t, p.id, cid)
		})
	}
}

// testTerminal checks the guest tty (process pid, the container process)
// under the ctr of r; with hold, the test keeps the guest's pty slave
// open until ctr has exited.
func testTerminal(t *testing.T, r *ctrPty, pid int, hold bool) {
	t.Helper()
	r.waitFor(t, "tty in=")
	if out := r.output(); !strings.Contains(out, "tty in=1 out=1 err=1") {
		t.Errorf("the guest does not see terminals:\n%q", out)
	}
	testTerminalIO(t, r, pid, hold)
}

// testTerminalIO is testTerminal after the guest's first line: its pty
// follows the window size of r's terminal, and a line typed there reaches
// it.
func testTerminalIO(t *testing.T, r *ctrPty, pid int, hold bool) {
	t.Helper()
	// The pty the guest has: the host's view of its window size.
	pts, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/0", pid))
	if err != nil || !strings.HasPrefix(pts, "/dev/pts/") {
		t.Fatalf("the container process's stdin is %q (%v), want a /dev/pts slave", pts, err)
	}
	if ours, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/0", r.pid)); ours == pts {
		t.Errorf("the guest has ctr's own terminal %s, not one of the shim's", pts)
	}
	for _, fd := range []int{1, 2} {
		if p, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd)); p != pts {
			t.Errorf("fd %d of the container process is %q, want %s", fd, p, pts)
		}
	}
	f, err := os.OpenFile(pts, os.O_RDONLY|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() // before the guest exits too: see below
	size := func() string {
		ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
		if err != nil {
			return err.Error()
		}
		return fmt.Sprintf("%dx%d", ws.Col, ws.Row)
	}
	for _, want := range []string{"100x40", "80x25"} {
		if want == "80x25" {
			// The kernel sends SIGWINCH to ctr, the terminal's
			// foreground process; ctr sends ResizePty.
			if err := unix.IoctlSetWinsize(int(r.master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: 80, Row: 25}); err != nil {
				t.Fatal(err)
			}
		}
		if !waitUntil(10*time.Second, 20*time.Millisecond, func() bool { return size() == want }) {
			t.Errorf("the guest's terminal is %s, want %s (ctr's)", size(), want)
		}
	}
	// The master reads EIO, ending the shim's copy, only once no one
	// has the slave open.
	if !hold {
		f.Close()
	}
	if _, err := r.master.Write([]byte("hello tty\r")); err != nil {
		t.Fatal(err)
	}
	if code := r.wait(t); code != 0 {
		t.Errorf("ctr exited with %d, want 0\n%s\n%s", code, r.output(), r.stderr.String())
	}
	if out := r.output(); !strings.Contains(out, "got [hello tty]") {
		t.Errorf("the guest's echo did not arrive:\n%q", out)
	}
}

// ctrPty is a ctr command whose stdin and stdout are a pty the test
// opened, with ctr as its session leader (it gets SIGWINCH).
type ctrPty struct {
	master *os.File
	stderr bytes.Buffer
	term   *testpty.Output
	done   chan struct{}
	code   int
	pid    int // ctr's
}

// startCtrOnPty starts ctr ARGS on a new 100x40 pty and reads the
// terminal until ctr ends.
func startCtrOnPty(t *testing.T, d *testdaemon.Daemon, args ...string) *ctrPty {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	t.Cleanup(cancel)
	return startOnTerminal(t, d.CtrCommand(ctx, args...))
}

// startOnTerminal starts cmd (a ctr or crictl) on a new 100x40 pty and
// reads the terminal until it ends.
func startOnTerminal(t *testing.T, cmd *exec.Cmd) *ctrPty {
	t.Helper()
	master, slave := testpty.Open(t)
	if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: 100, Row: 40}); err != nil {
		t.Fatal(err)
	}
	defer slave.Close()
	r := &ctrPty{master: master, done: make(chan struct{})}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, &r.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.pid = cmd.Process.Pid
	r.term = testpty.Read(t, master)
	go func() {
		cmd.Wait()
		r.code = exitStatus(cmd)
		close(r.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-r.done
	})
	return r
}

func exitStatus(cmd *exec.Cmd) int {
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return cmd.ProcessState.ExitCode()
}

func (r *ctrPty) output() string { return r.term.String() }

func (r *ctrPty) waitFor(t *testing.T, s string) {
	t.Helper()
	if !waitUntil(30*time.Second, 10*time.Millisecond, func() bool { return strings.Contains(r.output(), s) }) {
		t.Fatalf("no %q on the terminal:\n%q\nctr stderr: %s", s, r.output(), r.stderr.String())
	}
}

// wait waits for ctr to exit and for the terminal's last output.
func (r *ctrPty) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("ctr did not exit:\n%q", r.output())
	}
	select {
	case <-r.term.Done():
	case <-time.After(5 * time.Second):
	}
	return r.code
}
