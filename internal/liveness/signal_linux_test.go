package liveness

import (
	"os/exec"
	"syscall"
	"testing"
)

// TestSignal: a signal goes to the process recorded, never to one that
// holds its pid with another start time (the pid reused since the record:
// here, a record with the wrong start time), and a process gone is no
// error.
func TestSignal(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	pid := cmd.Process.Pid
	start, err := StartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := Signal(pid, start+1, syscall.SIGKILL); err != nil {
		t.Fatalf("another record of the pid: %v", err)
	}
	if !Alive(pid, start) {
		t.Fatal("the process was signalled through a record of another start time")
	}
	if err := Signal(pid, start, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if ws := cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("the recorded process ended with %v, want SIGKILL", cmd.ProcessState)
	}
	if err := Signal(pid, start, syscall.SIGKILL); err != nil {
		t.Errorf("a process gone: %v", err)
	}
}
