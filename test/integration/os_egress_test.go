package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/wasmrun/wasmrun/internal/guests"
	"github.com/wasmrun/wasmrun/internal/testdns"
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

// TestOSEgressDNS: a guest denied every address tries to smuggle names out
// through sock_getaddrinfo, which the host resolves for it. The guest's
// namespace gets its own resolv.conf (/etc/netns/<ns>/resolv.conf, as `ip
// netns exec` reads it) naming a DNS server this test runs on the
// namespace's own loopback, started once the namespace exists (the guest
// waits for it on stdin). Under deny-all no query reaches the server, and
// an existing and a missing name get the same errno, while the hosts file
// and numeric hosts still resolve. With the nameserver allowed, the same
// server is queried (so the zero above is not a broken setup).
func TestOSEgressDNS(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	wasm := guests.C(t, "egress_attack")
	const nameserver = "127.0.0.53"
	for i, tc := range []struct {
		name, network   string
		exists, missing string // errnos: EAI_FAIL 80, EAI_NONAME 84
		wantQueries     bool
	}{
		{"deny all", `deny = ["0.0.0.0/0", "::/0"]` + "\n" + `allow = ["10.1.2.3"]`, "80", "80", false},
		{"nameserver allowed", `deny = ["0.0.0.0/0", "::/0"]` + "\n" + `allow = ["10.1.2.3", "` + nameserver + `"]`, "80", "84", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("dns%d", i)
			etc := filepath.Join("/etc/netns", e.prefix+"-"+id)
			hadNetns := fileExists("/etc/netns")
			if err := os.MkdirAll(etc, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				os.RemoveAll(etc)
				if !hadNetns {
					os.Remove("/etc/netns") // only if empty: others may use it
				}
			})
			writeFile(t, filepath.Join(etc, "resolv.conf"), "nameserver "+nameserver+"\noptions timeout:2 attempts:1\n")
			writeFile(t, filepath.Join(etc, "hosts"), "127.0.0.1 localhost\n10.1.2.3 inhosts.wasmrun.test\n")

			app := e.app(map[string]string{"app.wasm": wasm}, "", tc.network+"\n")
			stdin, toGuest, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer toGuest.Close()
			run := e.startCmd(func(cmd *exec.Cmd) { cmd.Stdin = stdin }, app, "--name", id, "--", "wait",
				"resolve", "exists.wasmrun.test", "resolve", "missing.wasmrun.test",
				"resolve", "inhosts.wasmrun.test", "resolve", "10.1.2.3")
			stdin.Close()
			run.waitFor("ready")

			var dns *testdns.Server
			err = ns.WithNetNSPath(e.netns(id), func(ns.NetNS) error {
				pc, err := net.ListenPacket("udp4", nameserver+":53")
				if err != nil {
					return err
				}
				dns = &testdns.Server{IP: nameserver, PC: pc, Records: map[string][]net.IP{"exists.wasmrun.test.": {net.IPv4(10, 9, 9, 9)}}}
				return nil
			})
			if err != nil {
				t.Fatalf("start the DNS server in the app's namespace: %v", err)
			}
			defer dns.PC.Close()
			go dns.Serve()
			fmt.Fprintln(toGuest, "go")

			if code := run.wait(); code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, run.stdout, run.stderr)
			}
			want := strings.Join([]string{"ready",
				"resolve exists.wasmrun.test errno " + tc.exists,
				"resolve missing.wasmrun.test errno " + tc.missing,
				"resolve inhosts.wasmrun.test errno 0",
				"resolve 10.1.2.3 errno 0"}, "\n")
			if got := strings.TrimSpace(run.stdout.String()); got != want {
				t.Errorf("guest reported:\n%s\nwant:\n%s", got, want)
			}
			if got := dns.Queries.Load(); (got > 0) != tc.wantQueries {
				t.Errorf("the DNS server got %d queries; want some: %v", got, tc.wantQueries)
			}
		})
	}
	e.noLeaks()
}

// TestOSEgressSockopt: the container process is root, so the kernel would
// let a guest bind a socket to a device (to send loopback-addressed or
// unrouted traffic out of an interface of its choice, around the
// namespace's routes and the egress policy) or set DONTROUTE. wasmrun
// refuses both with EPERM, with or without a policy, and the socket is
// left unbound; reading the options and clearing DONTROUTE still work.
func TestOSEgressSockopt(t *testing.T) {
	t.Parallel()
	e := newOSEnv(t)
	wasm := guests.C(t, "egress_attack")
	args := []string{"setopt", "bindtodevice", "lo", "setopt", "dontroute", "1",
		"setopt", "dontroute", "0", "getopt", "bindtodevice", "getopt", "dontroute"}
	want := strings.Join([]string{
		"setopt bindtodevice lo errno 63", // EPERM
		"setopt dontroute 1 errno 63",
		"setopt dontroute 0 errno 0",
		`getopt bindtodevice errno 0 value ""`,
		"getopt dontroute errno 0 value 0",
	}, "\n")
	for _, tc := range []struct{ name, network string }{
		{"no policy", ""},
		{"allow loopback", `deny = ["0.0.0.0/0", "::/0"]` + "\n" + `allow = ["127.0.0.1"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := e.app(map[string]string{"app.wasm": wasm}, "", tc.network+"\n")
			r := e.run(append([]string{"os", app, "--"}, args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			if got := strings.TrimSpace(r.stdout); got != want {
				t.Errorf("guest reported:\n%s\nwant:\n%s", got, want)
			}
		})
	}
	e.noLeaks()
}
