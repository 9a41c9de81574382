package integration

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// --verbose shows what the guest's sockets do, with errno names, on
// wasmrun's stderr ("wasmrun: guest: bind 127.0.0.1:3000: EADDRINUSE"):
// what the troubleshooting advice "check logs for bind errors" needs.
// Without it, nothing of the kind is printed.

// guestEventPrefix starts every socket event line.
const guestEventPrefix = "wasmrun: guest: "

// expectEvents fails t unless every pattern (a regexp matched against a
// whole line, prefix included) matches a line of stderr.
func expectEvents(t *testing.T, stderr string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		re := regexp.MustCompile("^" + regexp.QuoteMeta(guestEventPrefix) + p + "$")
		found := false
		for _, l := range lines(stderr) {
			if re.MatchString(l) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no line matching %q in stderr:\n%s", re, stderr)
		}
	}
}

// expectNoEvents fails t if stderr has a socket event line.
func expectNoEvents(t *testing.T, stderr string) {
	t.Helper()
	if strings.Contains(stderr, guestEventPrefix) {
		t.Errorf("socket events without --verbose:\n%s", stderr)
	}
}

// TestVerboseEventsRun: `wasmrun run --verbose` with a C guest (raw socket
// imports, blocking connect) binding a port this test holds and
// connecting to a closed one, and with a Go guest (stealthrocket/net:
// non-blocking connect, whose outcome is read with SO_ERROR) dialling the
// closed port.
func TestVerboseEventsRun(t *testing.T) {
	t.Parallel()
	taken := strconv.Itoa(heldPort(t, "tcp"))
	closed := strconv.Itoa(freePort(t, "tcp"))

	t.Run("c", func(t *testing.T) {
		t.Parallel()
		wasm := guests.C(t, "egress_attack")
		steps := []string{"listen", "127.0.0.1", taken, "listen", "127.0.0.1", "0", "connect", "V1", "127.0.0.1", closed}
		r := run(t, nil, append([]string{"run", "--verbose", wasm, "--"}, steps...)...)
		mustExit(t, r, 0)
		// The guest sees what it always saw: EADDRINUSE (3), ECONNREFUSED (14).
		want := "listen 127.0.0.1 " + taken + " errno 3\nlisten 127.0.0.1 0 errno 0\nconnect V1 127.0.0.1 " + closed + " errno 14"
		if got := strings.TrimSpace(r.stdout); got != want {
			t.Errorf("guest reported:\n%s\nwant:\n%s", got, want)
		}
		expectEvents(t, r.stderr,
			`bind 127\.0\.0\.1:`+taken+`: EADDRINUSE`,
			`bind 127\.0\.0\.1:0: ok`,
			`listen on 127\.0\.0\.1:[0-9]+: ok`,
			`connect to 127\.0\.0\.1:`+closed+`: ECONNREFUSED`,
		)

		r = run(t, nil, append([]string{"run", wasm, "--"}, steps...)...)
		mustExit(t, r, 0)
		expectNoEvents(t, r.stderr)
	})

	t.Run("go", func(t *testing.T) {
		t.Parallel()
		wasm := guests.Go(t, "egress")
		args := []string{wasm, "--", "127.0.0.1:0", "127.0.0.1:" + closed}
		r := run(t, nil, append([]string{"run", "--verbose"}, args...)...)
		mustExit(t, r, 0)
		if got, want := strings.TrimSpace(r.stdout), "127.0.0.1:"+closed+" refused"; got != want {
			t.Errorf("guest reported %q, want %q", got, want)
		}
		expectEvents(t, r.stderr,
			`listen on 127\.0\.0\.1:[0-9]+: ok`,
			`connect to 127\.0\.0\.1:`+closed+`: ECONNREFUSED`,
		)

		r = run(t, nil, append([]string{"run"}, args...)...)
		mustExit(t, r, 0)
		expectNoEvents(t, r.stderr)
	})
}

// TestVerboseEventsOS: `wasmrun os --verbose`, where the guest runs in the
// container process (wasmrun-init) whose stderr is the app's: a second
// listener on a port the guest already listens on in its namespace, a
// connect to a closed port of its loopback, and one the egress policy
// denies, which the line says.
func TestVerboseEventsOS(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	wasm := guests.C(t, "egress_attack")
	app := e.app1(wasm)
	steps := []string{"listen", "127.0.0.1", "7000", "listen", "127.0.0.1", "7000",
		"connect", "V1", "127.0.0.1", "7999", "connect", "V1", "10.9.9.9", "80"}

	r := e.run(append([]string{"os", "--verbose", "--deny", "10.9.9.9", app, "--"}, steps...)...)
	mustExit(t, r, 0)
	want := "listen 127.0.0.1 7000 errno 0\nlisten 127.0.0.1 7000 errno 3\n" +
		"connect V1 127.0.0.1 7999 errno 14\nconnect V1 10.9.9.9 80 errno 63"
	if got := strings.TrimSpace(r.stdout); got != want {
		t.Errorf("guest reported:\n%s\nwant:\n%s", got, want)
	}
	expectEvents(t, r.stderr,
		`bind 127\.0\.0\.1:7000: ok`,
		`listen on 127\.0\.0\.1:7000: ok`,
		`bind 127\.0\.0\.1:7000: EADDRINUSE`,
		`connect to 127\.0\.0\.1:7999: ECONNREFUSED`,
		`connect to 10\.9\.9\.9:80: EPERM \(denied by the egress policy\)`,
	)

	r = e.run(append([]string{"os", "--deny", "10.9.9.9", app, "--"}, steps...)...)
	mustExit(t, r, 0)
	expectNoEvents(t, r.stderr)
	e.noLeaks()
}
