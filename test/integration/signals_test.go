package integration

import (
	"context"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// TestSignalExitStatus: the same signal gives the same exit status,
// whoever sends it and whichever command runs the guest: SIGINT 130 and
// SIGTERM 143, from kill(1) to wasmrun alone or from a terminal to its
// whole process group (Ctrl-C), for `wasmrun run` and `wasmrun os` (with
// one instance and with two), while
// the guest runs and (os) while it is being created. A signal the shell
// started wasmrun ignoring (a background job's SIGINT, nohup's SIGHUP)
// does nothing, as for a native program, and stays ignored in the app.
func TestSignalExitStatus(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	spin := guests.C(t, "spin") // never calls the host: only a real signal stops it
	spinApp := e.app1(spin)
	endless := e.app(nil, "", "")
	writeFile(t, filepath.Join(endless, "app.wasm"), string(endlessStart))
	// Compiled once, so that the runs below reach the guest at once.
	mustExit(t, run(t, nil, "compile", "--cache-dir", cacheDir, spin), 0)

	type start func(e *osEnv, name string, prep func(*exec.Cmd)) *osRun
	commands := map[string]start{
		"run": func(e *osEnv, _ string, prep func(*exec.Cmd)) *osRun {
			args := []string{"run", spin, "--", "print"}
			cmd := command(context.Background(), args...)
			if prep != nil {
				prep(cmd)
			}
			return startOSRun(e.t, cmd, args)
		},
		"os": func(e *osEnv, name string, prep func(*exec.Cmd)) *osRun {
			return e.startCmd(prep, "--name", name, spinApp, "--", "print")
		},
		// Two instances stop as one does (initproc/instances_linux.go).
		"os-instances": func(e *osEnv, name string, prep func(*exec.Cmd)) *osRun {
			return e.startCmd(prep, "--name", name, "--instances", "2", spinApp, "--", "print")
		},
	}
	senders := map[string]func(r *osRun, sig syscall.Signal) error{
		"kill":     func(r *osRun, sig syscall.Signal) error { return r.cmd.Process.Signal(sig) },
		"terminal": func(r *osRun, sig syscall.Signal) error { return syscall.Kill(-r.cmd.Process.Pid, sig) },
	}
	group := func(c *exec.Cmd) { c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }
	t.Run("group", func(t *testing.T) {
		for cname, startCmd := range commands {
			for sname, send := range senders {
				for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
					t.Run(cname+"/"+sname+"/"+sig.String(), func(t *testing.T) {
						t.Parallel()
						e := e.with(t)
						r := startCmd(e, "s"+cname+sname+sig.String()[3:], group)
						r.waitFor("spinning")
						if err := send(r, sig); err != nil {
							t.Fatal(err)
						}
						if code, want := r.wait(), 128+int(sig); code != want {
							t.Errorf("exit status %d, want %d\nstderr:\n%s", code, want, r.stderr)
						}
					})
				}
			}
			t.Run(cname+"/ignored", func(t *testing.T) {
				t.Parallel()
				e := e.with(t)
				// As a shell starts a background job, and nohup.
				r := startCmd(e, "ign"+cname, func(c *exec.Cmd) {
					c.Args = append([]string{"sh", "-c", `trap "" INT HUP; exec "$0" "$@"`, c.Path}, c.Args[1:]...)
					c.Path = "/bin/sh"
					group(c)
				})
				r.waitFor("spinning")
				for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGHUP} {
					for _, send := range senders {
						if err := send(r, sig); err != nil {
							t.Fatal(err)
						}
					}
				}
				select {
				case <-r.done:
					t.Fatalf("an ignored SIGINT or SIGHUP ended it: exit %d\nstderr:\n%s", r.code, r.stderr)
				case <-time.After(time.Second):
				}
				r.signal(syscall.SIGTERM)
				if code := r.wait(); code != 143 {
					t.Errorf("exit status %d after SIGTERM, want 143\nstderr:\n%s", code, r.stderr)
				}
			})
		}
		// Ctrl-C while the app is being created (its start function never
		// returns) reaches wasmrun and the container process at once.
		t.Run("os/terminal/creating", func(t *testing.T) {
			t.Parallel()
			e := e.with(t)
			r := e.startCmd(group, "--name", "creating", endless)
			if e.initProcess("creating", 200*time.Millisecond) == 0 {
				t.Fatalf("the endless start function never ran\nstderr:\n%s", r.stderr)
			}
			if err := syscall.Kill(-r.cmd.Process.Pid, syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			if code := r.wait(); code != 130 || r.stderr.String() != "" {
				t.Errorf("exit status %d, stderr %q; want 130 and nothing", code, r.stderr)
			}
		})
	})
	e.noLeaks()
}
