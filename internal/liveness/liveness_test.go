package liveness

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestAlive: a running process is alive with its own start time and not
// with another; once it has exited it is dead, already as a zombie that
// nobody has reaped, and so is a pid that does not exist.
func TestAlive(t *testing.T) {
	self, err := StartTime(os.Getpid())
	if err != nil || self == 0 {
		t.Fatalf("own start time: %d, %v", self, err)
	}
	if !Alive(os.Getpid(), self) || Alive(os.Getpid(), self+1) {
		t.Errorf("Alive(self) wrong for the right and a wrong start time")
	}

	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	pid := cmd.Process.Pid
	start, err := StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	if !Alive(pid, start) {
		t.Fatalf("running child %d not alive", pid)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	// Wait until it has exited, leaving it a zombie (WNOWAIT: not reaped).
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil {
		t.Fatalf("the child is gone, not a zombie: the test proves nothing: %v", err)
	}
	if Alive(pid, start) {
		t.Errorf("exited child %d (a zombie, not reaped) is alive", pid)
	}
	if Alive(-1, 0) || Alive(0, 0) {
		t.Error("a non-process is alive")
	}
}
