package integration

import (
	"strings"
	"testing"

	"github.com/wasmrun/wasmrun/internal/guests"
)

// TestOSEgress: [network] allow/deny are enforced host-side on the guest's
// connects inside its own namespace: the guest listens on 127.0.0.1 and
// 127.0.0.2 (its own loopback) and dials both.
func TestOSEgress(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	wasm := guests.Go(t, "egress")
	args := []string{"--", "0.0.0.0:7000", "127.0.0.1:7000", "127.0.0.2:7000", "127.0.0.1:7001"}
	for _, tc := range []struct {
		name, network string
		want          []string
	}{
		{"no policy", "", []string{"127.0.0.1:7000 connected", "127.0.0.2:7000 connected", "127.0.0.1:7001 refused"}},
		{"deny loopback", `deny = ["127.0.0.0/8"]`, []string{"127.0.0.1:7000 denied", "127.0.0.2:7000 denied", "127.0.0.1:7001 denied"}},
		{"allow one address", `deny = ["0.0.0.0/0"]` + "\n" + `allow = ["127.0.0.1"]`, []string{"127.0.0.1:7000 connected", "127.0.0.2:7000 denied", "127.0.0.1:7001 refused"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := e.app(map[string]string{"app.wasm": wasm}, "", tc.network+"\n")
			r := e.run(append([]string{"os", app}, args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			got := strings.Split(strings.TrimSpace(r.stdout), "\n")
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("guest reported:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
	e.noLeaks()
}

// TestOSEgressUnspecified: a guest that may not reach loopback tries the
// unspecified address instead, which Linux delivers to loopback: 0.0.0.0,
// ::ffff:0.0.0.0 and ::, with V1 and V2 addresses, by connect and by
// send_to. Without a policy every attempt arrives (the attack is real);
// with deny = ["127.0.0.0/8", "::1/128"] every one is EPERM and no
// datagram arrives.
func TestOSEgressUnspecified(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	wasm := guests.C(t, "egress_attack")
	args := []string{"listen", "0.0.0.0", "7000", "listen", "::", "7001", "udp-listen", "::", "7003"}
	var attempts []string
	for _, v := range []string{"V1", "V2"} {
		for _, dst := range []string{"0.0.0.0 7000", "::ffff:0.0.0.0 7000", ":: 7001"} {
			attempts = append(attempts, "connect "+v+" "+dst)
		}
		for _, dst := range []string{"0.0.0.0", "::ffff:0.0.0.0", "::"} {
			attempts = append(attempts, "sendto "+v+" "+dst+" 7003")
		}
	}
	for _, a := range attempts {
		args = append(args, strings.Fields(a)...)
	}
	args = append(args, "received")

	for _, tc := range []struct {
		name, network string
		errno         string // of every attempt
		received      string
	}{
		{"no policy", "", "0", "6"},
		{"deny loopback", `deny = ["127.0.0.0/8", "::1/128"]`, "63", "0"}, // EPERM
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := e.app(map[string]string{"app.wasm": wasm}, "", tc.network+"\n")
			r := e.run(append([]string{"os", app, "--"}, args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			want := []string{"listen 0.0.0.0 7000 errno 0", "listen :: 7001 errno 0", "udp-listen :: 7003 errno 0"}
			for _, a := range attempts {
				want = append(want, a+" errno "+tc.errno)
			}
			want = append(want, "received "+tc.received)
			if got := strings.TrimSpace(r.stdout); got != strings.Join(want, "\n") {
				t.Errorf("guest reported:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
			}
		})
	}
	e.noLeaks()
}
