package integration

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// README.md's Rust section, tested: the std-only HTTP hello server
// (internal/guests/testdata/rust/http_hello.rs) on the socket --listen
// preopens, under wasmrun run (with and without --dir before it) and
// wasmrun os; and what std's own sockets do on preview1.

// TestRustHTTPHello: the example answers under `wasmrun run --listen`,
// finding the listener after any --dir preopens, and under `wasmrun os
// --listen 3000 --forward HOSTPORT:3000`.
func TestRustHTTPHello(t *testing.T) {
	wasm := guests.Rust(t, "http_hello")
	client := &http.Client{Timeout: sockWait}
	get := func(t *testing.T, url string) string {
		t.Helper()
		return httpGet(t, client, url)
	}
	for name, dirs := range map[string][]string{"run": nil, "run-with-dir": {"--dir", t.TempDir() + ":/data"}} {
		t.Run(name, func(t *testing.T) {
			port := freePort(t, "tcp")
			args := append([]string{"run", "--listen", "127.0.0.1:" + strconv.Itoa(port)}, dirs...)
			g := startSockGuest(t, append(args, wasm, "--", "2")...)
			wantFD := "3"
			if dirs != nil {
				wantFD = "4"
			}
			if fd := g.expect("serving on fd"); fd != wantFD {
				t.Errorf("listener at fd %s, want %s", fd, wantFD)
			}
			for _, p := range []string{"/", "/hello"} {
				if got, want := get(t, fmt.Sprintf("http://127.0.0.1:%d%s", port, p)), "Hello from Rust on wasmrun! You asked for "+p+"\n"; got != want {
					t.Errorf("GET %s = %q, want %q", p, got, want)
				}
			}
			g.expect("done")
			g.wait()
		})
	}
	t.Run("os", func(t *testing.T) {
		requireCNI(t)
		e := newOSEnv(t)
		if r := e.run("os", "--listen", "3000", t.TempDir()); strings.Contains(r.stderr, "unknown flag --listen") {
			t.Skip("skipping: this wasmrun os has no --listen")
		}
		dir := e.app(map[string]string{"app.wasm": wasm}, "", "")
		port := freePort(t, "tcp")
		r := e.start("--name", "rust-hello", "--listen", "3000", "--forward", strconv.Itoa(port)+":3000", dir)
		r.waitFor("serving on fd 5") // after the app's / and /tmp
		if got := get(t, fmt.Sprintf("http://127.0.0.1:%d/os", port)); !strings.Contains(got, "You asked for /os") {
			t.Errorf("GET through the forward = %q", got)
		}
		terminateAll(t, map[string]*osRun{"rust-hello": r})
		e.noLeaks(port)
	})
	t.Run("no-listener", func(t *testing.T) {
		r := run(t, nil, "run", wasm)
		mustExit(t, r, 2)
		if !strings.Contains(r.stderr, "--listen") {
			t.Errorf("stderr %q does not say to use --listen", r.stderr)
		}
	})
}

// TestRustStdSocketsUnsupported: Rust std's own bind, connect and name
// resolution fail on preview1 ("operation not supported on this platform"),
// as the README says: the module imports nothing that could open a
// socket, whatever the host offers.
func TestRustStdSocketsUnsupported(t *testing.T) {
	r := run(t, nil, "run", guests.Rust(t, "std_bind"))
	mustExit(t, r, 0)
	for _, op := range []string{"bind", "connect", "resolve"} {
		if got := field(t, r.stdout, op+":"); got != "operation not supported on this platform" {
			t.Errorf("%s: %q", op, got)
		}
	}
}
