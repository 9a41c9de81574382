package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wasmrun/wasmrun/internal/guests"
	"github.com/wasmrun/wasmrun/internal/testdns"
)

// TestOSEgressNames: host-name entries in the egress policy, with
// isolation = false, so the guest resolves through the host's
// /etc/resolv.conf: wasmrun runs in a private mount namespace where a
// resolv.conf naming a test DNS server on loopback is bound over it. The
// server knows api.test (127.0.0.2) and other.test (127.0.0.3); TCP
// listeners wait on both addresses.
//
// With allow = ["api.test:PORT"] alone (an allow list of one name), the
// guest tries first what an attacker would: a connect to api.test's
// address before resolving it, and resolving other.test and a name
// --deny refuses (both would leak the name to the nameserver, which no
// prefix permits). All fail, and the server has seen no query when the
// guest stops to let the test count. Then api.test resolves and its
// address is connectable at PORT only; other.test's address stays EPERM.
// Without a policy the same steps connect everywhere and every name is
// looked up, so the failures above are the policy's. With --deny alone,
// the denied name (in any case, with a trailing dot) is refused without a
// query while other names and every address stay reachable.
func TestOSEgressNames(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("skipping: unshare(1) is needed to give wasmrun its own /etc/resolv.conf")
	}
	wasm := guests.C(t, "egress_attack")
	dns := testdns.Start(t, map[string][]net.IP{
		"api.test.":       {net.IPv4(127, 0, 0, 2)},
		"other.test.":     {net.IPv4(127, 0, 0, 3)},
		"x.blocked.test.": {net.IPv4(127, 0, 0, 2)},
	})
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	writeFile(t, conf, "nameserver "+dns.IP+"\noptions timeout:2 attempts:1\n")

	var accepted atomic.Int32
	port, otherPort := loopbackListeners(t, &accepted)
	p, op := strconv.Itoa(port), strconv.Itoa(otherPort)
	// The attempts an attacker makes first, then (after the wait) what an
	// allowed app does. Errnos: EPERM 63, EAI_FAIL 80.
	type step struct{ step, errno string }
	allowSteps := func(errnos ...string) []step {
		return []step{
			{"connect V1 127.0.0.2 " + p, errnos[0]},
			{"resolve other.test", errnos[1]},
			{"resolve x.blocked.test", errnos[2]},
			{"wait", ""},
			{"resolve api.test", errnos[3]},
			{"connect V1 127.0.0.2 " + p, errnos[4]},
			{"connect V2 127.0.0.2 " + op, errnos[5]},
			{"connect V1 127.0.0.3 " + p, errnos[6]},
		}
	}

	for _, tc := range []struct {
		name, network string
		flags         []string
		steps         []step
		early         bool // whether the server is asked before the wait
		accepted      int32
	}{
		{"no policy", "", nil, allowSteps("0", "0", "0", "0", "0", "0", "0"), true, 4},
		{"allow one name", `allow = ["api.test:` + p + `"]`, []string{"--deny", "*.blocked.test"},
			allowSteps("63", "80", "80", "0", "0", "63", "63"), false, 1},
		// Deny names block names, not addresses.
		{"deny names", "", []string{"--deny", "*.blocked.test"}, []step{
			{"resolve x.blocked.test", "80"},
			{"resolve X.Blocked.TEST.", "80"},
			{"wait", ""},
			{"resolve other.test", "0"},
			{"connect V1 127.0.0.2 " + p, "0"},
		}, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			accepted.Store(0)
			queries := dns.Queries.Load()
			app := e.app(map[string]string{"app.wasm": wasm}, "", "isolation = false\n"+tc.network+"\n")
			stdin, toGuest, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer toGuest.Close()
			args := append(append([]string{app}, tc.flags...), "--")
			var want []string
			for _, s := range tc.steps {
				args = append(args, strings.Fields(s.step)...)
				if s.step == "wait" {
					want = append(want, "ready")
				} else {
					want = append(want, s.step+" errno "+s.errno)
				}
			}
			// The private mount namespace and the bind mount live and die
			// with this one process, which then becomes wasmrun.
			cmd := exec.Command(unshare, append([]string{"--mount", "--propagation", "private", "sh", "-c",
				`mount --bind "$0" /etc/resolv.conf && exec "$@"`, conf, wasmrun, "os"}, args...)...)
			cmd.Env = e.command(context.Background()).Env
			cmd.Stdin = stdin
			run := startOSRun(t, cmd, args)
			stdin.Close()
			run.waitFor("ready")
			if got := dns.Queries.Load() - queries; (got > 0) != tc.early {
				t.Errorf("before the wait the DNS server got %d queries; want some: %v", got, tc.early)
			}
			fmt.Fprintln(toGuest, "go")
			if code := run.wait(); code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, run.stdout, run.stderr)
			}
			if got := strings.TrimSpace(run.stdout.String()); got != strings.Join(want, "\n") {
				t.Errorf("guest reported:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
			}
			if got := dns.Queries.Load() - queries; got == 0 {
				t.Error("the DNS server was never asked (a name after the wait is allowed)")
			}
			// The listeners count a connection as they accept it, which
			// may come after the guest's connect returned.
			waitUntil(5*time.Second, 10*time.Millisecond, func() bool { return accepted.Load() >= tc.accepted })
			if got := accepted.Load(); got != tc.accepted {
				t.Errorf("the listeners accepted %d connections, want %d", got, tc.accepted)
			}
		})
	}
	e.noLeaks()
}

// loopbackListeners listens on 127.0.0.2:PORT, 127.0.0.3:PORT and
// 127.0.0.2:OTHER, counting connections in n, until t ends.
func loopbackListeners(t *testing.T, n *atomic.Int32) (port, other int) {
	t.Helper()
	listen := func(addr string) (net.Listener, error) {
		l, err := net.Listen("tcp4", addr)
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				n.Add(1)
				c.Close()
			}
		}()
		return l, nil
	}
	for range 20 {
		l, err := listen("127.0.0.2:0")
		if err != nil {
			t.Fatal(err)
		}
		port = l.Addr().(*net.TCPAddr).Port
		if _, err := listen(fmt.Sprintf("127.0.0.3:%d", port)); err != nil {
			continue // taken on 127.0.0.3: try another port
		}
		l2, err := listen("127.0.0.2:0")
		if err != nil {
			t.Fatal(err)
		}
		return port, l2.Addr().(*net.TCPAddr).Port
	}
	t.Fatal("no port free on both 127.0.0.2 and 127.0.0.3")
	return 0, 0
}
