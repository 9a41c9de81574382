package cni

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A TCP server inside on :3000 answers on the host's 127.0.0.1:HOSTPORT;
// two namespaces use the same guest port behind different host ports; a
// UDP forward works; teardown leaves nothing.
func TestBridgePortmap(t *testing.T) {
	requirePlugins(t, "bridge", "host-local", "portmap")
	e := newTestEnv(t)
	pa, pb, pu := freePort(t), freePort(t), freePort(t)
	a := e.setup(Request{Mode: ModeNew, ID: e.id(), Forwards: []Forward{
		{HostIP: "127.0.0.1", HostPort: pa, GuestPort: 3000},
		{HostPort: pu, GuestPort: 3000, Protocol: "udp"},
	}})
	b := e.setup(Request{Mode: ModeNew, ID: e.id(), Forwards: []Forward{
		{HostPort: pb, GuestPort: 3000, Protocol: "tcp"},
	}})
	for _, n := range []*Namespace{a, b} {
		if len(n.Addrs) != 1 || !n.Gateway.IsValid() || n.IfName != "eth0" || n.Bridge != e.cfg.Bridge.Name {
			t.Fatalf("%s: addrs %v gateway %v if %q bridge %q", n.Name, n.Addrs, n.Gateway, n.IfName, n.Bridge)
		}
	}
	startEcho(t, a, ":3000", "A", true)
	startEcho(t, b, ":3000", "B", false)
	for _, c := range []struct{ addr, want string }{
		{fmt.Sprintf("127.0.0.1:%d", pa), "A: hello"},
		{fmt.Sprintf("127.0.0.1:%d", pb), "B: hello"},
	} {
		got, err := askTCP(c.addr, "hello")
		if err != nil || got != c.want {
			t.Fatalf("%s: got %q, %v; want %q", c.addr, got, err, c.want)
		}
	}
	got, err := askUDP(fmt.Sprintf("127.0.0.1:%d", pu), "ping")
	if err != nil || got != "A: ping" {
		t.Fatalf("udp 127.0.0.1:%d: got %q, %v", pu, got, err)
	}
	// The reopened namespace (a fresh process's view) matches.
	o, err := e.m.Open(a.ID)
	if err != nil || o.Path != a.Path || len(o.Forwards) != 2 || o.Addrs[0] != a.Addrs[0] {
		t.Fatalf("Open: %+v, %v", o, err)
	}
	log := e.log.String()
	for _, want := range []string{
		"veth eth0 " + a.Addrs[0].String() + " via bridge " + e.cfg.Bridge.Name,
		fmt.Sprintf("portmap 127.0.0.1:%d/tcp -> %s:3000", pa, a.Addrs[0].Addr()),
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	// What assertGone checks for is there while the namespaces live.
	rules := natRules(t)
	for _, p := range []uint16{pa, pb, pu} {
		if !hasPortRule(rules, p) {
			t.Fatalf("no NAT rule for port %d while forwarding", p)
		}
	}
	if k := e.bridgePorts(); k != 2 {
		t.Fatalf("%d veths on the bridge, want 2", k)
	}
	if l := e.leases(); len(l) != 2 {
		t.Fatalf("leases %v, want 2", l)
	}
	ctx := context.Background()
	if err := o.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Teardown(ctx); err != nil {
		t.Fatalf("second teardown: %v", err)
	}
	if err := b.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	e.assertGone(a.Name, pa, pu)
	e.assertGone(b.Name, pb)
	if _, err := askTCP(fmt.Sprintf("127.0.0.1:%d", pa), "x"); err == nil {
		t.Fatal("forward still answers after teardown")
	}
}

// Bridge without forwards: the namespace has a default route and reaches
// the outside (a test host beyond the host, through outbound NAT); no
// portmap runs. TestBridgeIsolation checks what it may not reach.
func TestBridgeOnly(t *testing.T) {
	requirePlugins(t, "bridge", "host-local")
	out := newOutsideHost(t)
	e := newTestEnv(t)
	n := e.setup(Request{Mode: ModeNew, ID: e.id(), Bridge: true})
	if len(n.Addrs) != 1 {
		t.Fatalf("addrs %v", n.Addrs)
	}
	if got, err := dialFrom(n, out.server, ""); err != nil || got != "outside: hi\n" {
		t.Fatalf("dial the outside from inside: %q, %v", got, err)
	}
	// Outbound NAT for this container while it lives (the bridge plugin's
	// ipMasq rules carry the container id in a comment).
	if rules := grepLines(natRules(t), n.Name); !strings.Contains(rules, "MASQUERADE") {
		t.Errorf("no outbound NAT rule for %s:\n%s", n.Name, rules)
	}
	if strings.Contains(e.log.String(), "portmap") {
		t.Errorf("portmap ran without forwards:\n%s", e.log)
	}
	if err := n.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.assertGone(n.Name)
}

// A taken host port is refused before anything is created.
func TestPortInUse(t *testing.T) {
	requirePlugins(t, "bridge", "host-local", "portmap")
	e := newTestEnv(t)
	for _, proto := range []string{"tcp", "udp"} {
		t.Run(proto, func(t *testing.T) {
			var port uint16
			if proto == "tcp" {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				port = uint16(l.Addr().(*net.TCPAddr).Port)
			} else {
				u, err := net.ListenPacket("udp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer u.Close()
				port = uint16(u.LocalAddr().(*net.UDPAddr).Port)
			}
			id := e.id()
			_, err := e.m.Setup(context.Background(), Request{Mode: ModeNew, ID: id, Forwards: []Forward{
				{HostPort: freePort(t), GuestPort: 80},
				{HostPort: port, GuestPort: 3000, Protocol: proto},
			}})
			want := fmt.Sprintf("port %d/%s on the host is already in use", port, proto)
			if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrPortInUse) {
				t.Fatalf("Setup: %v; want %q", err, want)
			}
			e.assertGone(e.m.NamespaceName(id), port)
		})
	}
	// A port one of our live namespaces forwards is refused too (a bind
	// probe cannot see a DNAT rule).
	p := freePort(t)
	e.setup(Request{Mode: ModeNew, ID: e.id(), Forwards: []Forward{{HostPort: p, GuestPort: 1}}})
	_, err := e.m.Setup(context.Background(), Request{Mode: ModeNew, ID: e.id(), Forwards: []Forward{{HostPort: p, GuestPort: 2}}})
	if !errors.Is(err, ErrPortInUse) || !strings.Contains(err.Error(), "forwarded to namespace") {
		t.Fatalf("second forward of port %d: %v", p, err)
	}
}

// 20 create/teardown cycles with a forward leave nothing.
func TestCycles(t *testing.T) {
	requirePlugins(t, "bridge", "host-local", "portmap")
	e := newTestEnv(t)
	port := freePort(t)
	ctx := context.Background()
	var names []string
	for i := range 20 {
		n, err := e.m.Setup(ctx, Request{Mode: ModeNew, ID: fmt.Sprintf("c%d", i),
			Forwards: []Forward{{HostIP: "127.0.0.1", HostPort: port, GuestPort: 3000}}})
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		names = append(names, n.Name)
		if err := n.Teardown(ctx); err != nil {
			t.Fatalf("cycle %d teardown: %v", i, err)
		}
	}
	for _, n := range names {
		e.assertGone(n, port)
	}
	if ents, _ := os.ReadDir(e.cfg.CacheDir + "/results"); len(ents) > 0 {
		t.Errorf("libcni cache results left: %d", len(ents))
	}
}

// Missing plugin: a clear error naming the plugin and every dir searched,
// and nothing left behind.
func TestMissingPlugin(t *testing.T) {
	requireRoot(t)
	e := newTestEnv(t)
	empty := t.TempDir()
	cfg := e.cfg
	cfg.PluginDirs = []string{empty}
	cfg.FallbackPluginDirs = []string{}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	id := e.id()
	_, err = m.Setup(context.Background(), Request{Mode: ModeNew, ID: id, Bridge: true})
	want := fmt.Sprintf(`CNI plugin "bridge" not found in %s`, empty)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Setup: %v; want %q", err, want)
	}
	e.assertGone(m.NamespaceName(id))

	// The default search path names all three places.
	m2, _ := New(Config{PluginDirs: []string{empty}})
	if got := strings.Join(m2.PluginPath(), ","); got != empty+",/opt/cni/bin,/usr/lib/cni" {
		t.Fatalf("PluginPath = %s", got)
	}
}

// A failing plugin in the middle of ADD: Setup fails with the plugin's
// message and undoes everything (DEL with the same arguments, namespace,
// state): no lease, veth or rule is left.
func TestAddFailureRollsBack(t *testing.T) {
	requirePlugins(t, "bridge", "host-local", "portmap")
	e := newTestEnv(t)
	dir := t.TempDir()
	for _, p := range []string{"bridge", "host-local"} {
		if err := os.Symlink(filepath.Join(pluginDir(t, p), p), filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	script := "#!/bin/sh\n" +
		"if [ \"$CNI_COMMAND\" = ADD ]; then\n" +
		"  echo '{\"cniVersion\":\"1.0.0\",\"code\":999,\"msg\":\"injected portmap failure\"}'; exit 1\n" +
		"fi\n" +
		"exec " + filepath.Join(pluginDir(t, "portmap"), "portmap") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "portmap"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := e.cfg
	cfg.PluginDirs, cfg.FallbackPluginDirs = []string{dir}, []string{}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	id := e.id()
	_, err = m.Setup(context.Background(), Request{Mode: ModeNew, ID: id,
		Forwards: []Forward{{HostIP: "127.0.0.1", HostPort: port, GuestPort: 80}}})
	if err == nil || !strings.Contains(err.Error(), "injected portmap failure") {
		t.Fatalf("Setup: %v", err)
	}
	e.assertGone(m.NamespaceName(id), port)
}

// pluginDir returns where plugin p is installed.
func pluginDir(t *testing.T, p string) string {
	for _, d := range DefaultFallbackPluginDirs {
		if _, err := os.Stat(filepath.Join(d, p)); err == nil {
			return d
		}
	}
	t.Skipf("plugin %s not installed", p)
	return ""
}

// The bridge and the network's IPAM directory go with the last namespace
// on the bridge, not before, and come back with the next one.
func TestBridgeRemovedWithLastNamespace(t *testing.T) {
	requirePlugins(t, "bridge", "host-local")
	e := newTestEnv(t)
	ctx := context.Background()
	bridgeExists := func() bool {
		_, err := net.InterfaceByName(e.cfg.Bridge.Name)
		return err == nil
	}
	ipamDir := filepath.Join(e.cfg.Bridge.IPAMDataDir, e.cfg.Bridge.Network)

	a := e.setup(Request{Mode: ModeNew, ID: e.id(), Bridge: true})
	b := e.setup(Request{Mode: ModeNew, ID: e.id(), Bridge: true})
	if !bridgeExists() || e.bridgePorts() != 2 {
		t.Fatalf("bridge %s: exists %v, %d ports; want 2", e.cfg.Bridge.Name, bridgeExists(), e.bridgePorts())
	}
	if err := a.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if !bridgeExists() || e.bridgePorts() != 1 {
		t.Fatalf("after the first teardown: bridge exists %v, %d ports; want it kept with 1", bridgeExists(), e.bridgePorts())
	}
	if err := b.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if bridgeExists() {
		t.Errorf("bridge %s left after the last namespace on it", e.cfg.Bridge.Name)
	}
	if _, err := os.Stat(ipamDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("IPAM directory %s left (%v)", ipamDir, err)
	}
	if !strings.Contains(e.log.String(), "deleted bridge "+e.cfg.Bridge.Name) {
		t.Errorf("log does not say the bridge was deleted:\n%s", e.log)
	}

	// A namespace in another state dir (the shim's) keeps a port on the
	// bridge: a teardown here must not take the bridge from under it.
	other := newTestEnv(t)
	other.cfg.Bridge = e.cfg.Bridge
	om, err := New(other.cfg)
	if err != nil {
		t.Fatal(err)
	}
	held, err := om.Setup(ctx, Request{Mode: ModeNew, ID: e.id(), Bridge: true})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Teardown(ctx)
	c := e.setup(Request{Mode: ModeNew, ID: e.id(), Bridge: true})
	if err := c.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if !bridgeExists() || e.bridgePorts() != 1 {
		t.Errorf("bridge with another state dir's namespace on it: exists %v, %d ports; want it kept with 1", bridgeExists(), e.bridgePorts())
	}
	if err := held.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if bridgeExists() {
		t.Errorf("bridge %s left after the other state dir's last namespace", e.cfg.Bridge.Name)
	}
}

// TestBridgeReleaseAfterKilledTeardown: a teardown killed after its CNI
// DEL and namespace removal, or in the middle of releasing the bridge,
// leaves the state, so the next teardown (the delete action, GC) finishes
// the job: bridge, its marker and the IPAM directory all go.
func TestBridgeReleaseAfterKilledTeardown(t *testing.T) {
	requirePlugins(t, "bridge", "host-local")
	e := newTestEnv(t)
	ctx := context.Background()
	ipamDir := filepath.Join(e.cfg.Bridge.IPAMDataDir, e.cfg.Bridge.Network)
	marker := bridgeMarker(filepath.Dir(ipamDir), e.cfg.Bridge.Name)
	released := func(what string) {
		t.Helper()
		if _, err := net.InterfaceByName(e.cfg.Bridge.Name); err == nil {
			t.Errorf("%s: bridge %s left", what, e.cfg.Bridge.Name)
		}
		for _, p := range []string{marker, ipamDir} {
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: %s left (%v)", what, p, err)
			}
		}
	}

	// Killed right after the namespace went: the state is still there.
	n := e.setup(Request{Mode: ModeNew, ID: e.id(), Bridge: true})
	if _, err := e.m.removeNamespace(ctx, n.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.m.statePath(n.Name)); err != nil {
		t.Fatalf("the state went with the namespace: a killed teardown could not be finished (%v)", err)
	}
	if err := n.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	released("teardown after a kill past the namespace")
	e.assertGone(n.Name)

	// Killed in the release, after the bridge went and before its marker
	// and the IPAM directory did.
	n = e.setup(Request{Mode: ModeNew, ID: e.id(), Bridge: true})
	if _, err := e.m.removeNamespace(ctx, n.Name); err != nil {
		t.Fatal(err)
	}
	if err := deleteLink(e.cfg.Bridge.Name); err != nil {
		t.Fatal(err)
	}
	if err := n.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	released("teardown after a kill in the bridge release")
	e.assertGone(n.Name)
}
