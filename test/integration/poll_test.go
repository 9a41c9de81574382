package integration

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPollStdin: the guest waits for stdin with a timeout. With no input it
// wakes after its timeout (not before, not much later); when the test then
// writes a line it wakes at once, long before its second timeout, and
// reads the line.
func TestPollStdin(t *testing.T) {
	forEachLang(t, true, func(t *testing.T, l lang) {
		wasm := l.build(t, "poll")
		ctx, cancel := testContext()
		defer cancel()
		const first, second = 300, 60000
		cmd := command(ctx, "run", wasm, "--", strconv.Itoa(first), strconv.Itoa(second))
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		out := make(chan string, 10)
		go func() {
			s := bufio.NewScanner(stdout)
			for s.Scan() {
				out <- s.Text()
			}
			close(out)
		}()
		next := func(within time.Duration) string {
			t.Helper()
			select {
			case line, ok := <-out:
				if !ok {
					cmd.Wait()
					t.Fatalf("guest exited early (stderr: %s)", stderr.String())
				}
				return line
			case <-time.After(within):
				t.Fatalf("no output from the guest within %v (stderr: %s)", within, stderr.String())
			}
			return ""
		}

		line := next(30 * time.Second)
		ms, ok := strings.CutPrefix(line, "timeout ")
		took, _ := strconv.Atoi(ms)
		if !ok || took < first || took > first+2000 {
			t.Fatalf("first wait: got %q, want \"timeout N\" with %d <= N <= %d", line, first, first+2000)
		}

		sent := time.Now()
		if _, err := stdin.Write([]byte("hello poll\n")); err != nil {
			t.Fatal(err)
		}
		line = next(30 * time.Second)
		if !strings.HasPrefix(line, "ready ") || time.Since(sent) > 10*time.Second {
			t.Fatalf("after writing stdin: got %q after %v, want \"ready N\" at once", line, time.Since(sent))
		}
		if line = next(10 * time.Second); line != "data hello poll" {
			t.Fatalf("got %q, want %q", line, "data hello poll")
		}
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("guest: %v (stderr: %s)", err, stderr.String())
		}
	})
}

// TestPollReadyFirst: input already waiting when the guest polls: it is
// ready at once, without waiting for the timeout.
func TestPollReadyFirst(t *testing.T) {
	forEachLang(t, true, func(t *testing.T, l lang) {
		r := run(t, strings.NewReader("early\n"), "run", l.build(t, "poll"), "--", "60000", "60000")
		mustExit(t, r, 0)
		if got := lines(r.stdout); len(got) != 2 || !strings.HasPrefix(got[0], "ready ") || got[1] != "data early" {
			t.Fatalf("stdout:\n%s\nwant ready + data early", r.stdout)
		}
		if r.wall > 30*time.Second {
			t.Fatalf("took %v: waited for the timeout instead of the ready stdin", r.wall)
		}
	})
}

// TestIdleCPU: a guest sleeping 3 s in poll_oneoff uses under 2% of a core,
// measured as the CPU time of wasmrun beyond that of the same guest
// sleeping 0 s. One pair of runs on a machine busy with the rest of the
// suite can differ by tens of milliseconds in start-up alone, so the
// least of up to three pairs counts; a guest that spins while it waits
// uses about 3 s in every one.
func TestIdleCPU(t *testing.T) {
	forEachLang(t, false, func(t *testing.T, l lang) {
		wasm := l.build(t, "idle")
		mustExit(t, run(t, nil, "run", wasm, "--", "0s"), 0) // warm the cache
		const limit = 60 * time.Millisecond
		var extra time.Duration
		for try := range 3 {
			base := run(t, nil, "run", wasm, "--", "0s")
			mustExit(t, base, 0)
			idle := run(t, nil, "run", wasm, "--", "3s")
			mustExit(t, idle, 0)
			if idle.wall < 3*time.Second {
				t.Fatalf("3 s sleep returned after %v", idle.wall)
			}
			if e := idle.cpu - base.cpu; try == 0 || e < extra {
				extra = e
			}
			t.Logf("CPU: baseline %v, 3 s idle %v (%+v)", base.cpu, idle.cpu, idle.cpu-base.cpu)
			if extra <= limit {
				return
			}
		}
		t.Fatalf("3 s idle used at least %v of CPU beyond start-up in three tries (limit %v = 2%% of a core)", extra, limit)
	})
}
