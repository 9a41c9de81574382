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
