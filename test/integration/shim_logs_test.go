package integration

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/testdaemon"
)

// testShimLogURI runs with `ctr run --log-uri`: file:// gets stdout and
// stderr appended to the file; binary:// starts a logging program with
// the streams on fds 3 and 4.
func testShimLogURI(t *testing.T, d *testdaemon.Daemon, rootfs string) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file.log")
	logger := filepath.Join(dir, "logger.sh")
	writeFile(t, logger, "#!/bin/sh\nexec 5>&-\ncat <&3 > "+filepath.Join(dir, "bin.out")+" &\ncat <&4 > "+filepath.Join(dir, "bin.err")+" &\nwait\n")
	if err := os.Chmod(logger, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		uri           string
		stdout, stder string
	}{
		{"file://" + file, file, file},
		{"binary://" + logger, filepath.Join(dir, "bin.out"), filepath.Join(dir, "bin.err")},
	} {
		id := newID("log")
		ctx, cancel := testContext()
		_, _, err := d.Ctr(ctx, "run", "--rm", "--runtime", shimRuntime, "--log-uri", tc.uri, "--rootfs", rootfs, id, "/app.wasm", "0", "logged")
		cancel()
		if err != nil {
			t.Fatalf("%s: %v\ndaemon log:\n%s", tc.uri, err, d.TailLog())
		}
		// The logging binary may still be writing when ctr returns.
		var out, errOut []byte
		if !waitUntil(10*time.Second, 20*time.Millisecond, func() bool {
			out, _ = os.ReadFile(tc.stdout)
			errOut, _ = os.ReadFile(tc.stder)
			return strings.Contains(string(out), "arg 2 [logged]\n") && strings.Contains(string(errOut), "to stderr\n")
		}) {
			t.Fatalf("%s: stdout file:\n%s\nstderr file:\n%s", tc.uri, out, errOut)
		}
	}
}

// testShimStdin pipes ctr's stdin into the guest, which gets EOF when
// the input ends.
func testShimStdin(t *testing.T, d *testdaemon.Daemon, rootfs string) {
	id := newID("stdin")
	ctx, cancel := testContext()
	defer cancel()
	cmd := d.CtrCommand(ctx, "run", "--rm", "--runtime", shimRuntime, "--rootfs", rootfs, id, "/app.wasm")
	cmd.Stdin = strings.NewReader("line one\nline two\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\nstdout:\n%s\ndaemon log:\n%s", err, out, d.TailLog())
	}
	if string(out) != "line one\nline two\n" {
		t.Errorf("stdout %q, want the input", out)
	}
}

// testShimEventsConfig watches `ctr events` during a run whose shim config
// (--runtime-config-path) names the module cache: the task events come in
// order and the cache is filled.
func testShimEventsConfig(t *testing.T, d *testdaemon.Daemon, rootfs string) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	config := filepath.Join(dir, "shim.toml")
	writeFile(t, config, "cache_dir = \""+cache+"\"\n")

	ctx, cancel := testContext()
	defer cancel()
	events := d.CtrCommand(ctx, "events")
	pipe, err := events.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := events.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		events.Process.Kill()
		events.Wait()
	}()
	got := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			got <- sc.Text()
		}
		close(got)
	}()
	// ctr events subscribes asynchronously: wait until it sees an event of
	// ours before the run that counts.
	waitEvents := func(id string, topics ...string) {
		t.Helper()
		var seen []string
		timeout := time.After(30 * time.Second)
		for len(seen) < len(topics) {
			select {
			case l, ok := <-got:
				if !ok {
					t.Fatalf("ctr events ended; saw %v", seen)
				}
				if strings.Contains(l, id) {
					for _, tp := range topics {
						if strings.Contains(l, " "+tp+" ") {
							seen = append(seen, tp)
						}
					}
				}
			case <-timeout:
				t.Fatalf("events of %s: saw %v, want %v", id, seen, topics)
			}
		}
		if strings.Join(seen, ",") != strings.Join(topics, ",") {
			t.Errorf("events of %s in the order %v, want %v", id, seen, topics)
		}
	}
	for i := 0; ; i++ {
		id := newID("events")
		if _, code := ctrRun(t, d, rootfs, id, []string{"--runtime-config-path", config}, "0"); code != 0 {
			t.Fatalf("exit code %d", code)
		}
		if i == 0 {
			// The first run may predate the subscription: drain it.
			waitEvents(id, "/containers/delete")
			continue
		}
		waitEvents(id, "/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete")
		break
	}
	if ents, err := os.ReadDir(cache); err != nil || len(ents) == 0 {
		t.Errorf("module cache %s from the shim config is empty (%v)", cache, err)
	}
}
