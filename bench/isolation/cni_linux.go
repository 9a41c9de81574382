package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/cni"
)

// guestPort is the port inside the namespace the benchmark forward points at.
const guestPort = 8080

// bench holds what one cni run made, so cleanup can remove all of it.
type bench struct {
	m      *cni.Manager
	cc     *libcni.CNIConfig
	dir    string
	prefix string
	port   uint16
	// plain are the namespaces made the plain way and not yet removed,
	// with the DEL to run for each (nil: none needed).
	plain map[string]func(context.Context) error
}

func runCNI(ctx context.Context, args []string) (err error) {
	fs := flag.NewFlagSet("isolation cni", flag.ContinueOnError)
	nLo := fs.Int("loopback", 300, "iterations of namespace + loopback with ours")
	nLoPlain := fs.Int("loopback-plain", 30, "of which also with plain libcni (spread evenly)")
	nBr := fs.Int("bridge", 10, "iterations of bridge + portmap (each: ours and plain)")
	dir := fs.String("dir", "", "private directory for state, libcni cache and IPAM (default: a new temp dir, removed)")
	brName := fs.String("bridge-name", "wrbench0", "bridge device (created and deleted)")
	subnet := fs.String("subnet", "10.237.0.0/24", "host-local range of the bridge network")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("needs root: creates network namespaces, a bridge and iptables rules")
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "wasmrun-isolation.")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	var rb [3]byte
	rand.Read(rb[:])
	b := &bench{dir: *dir, prefix: "wrb" + hex.EncodeToString(rb[:]), plain: map[string]func(context.Context) error{}}
	b.m, err = cni.New(cni.Config{
		Prefix:   b.prefix,
		StateDir: filepath.Join(*dir, "state"),
		CacheDir: filepath.Join(*dir, "cache"),
		Bridge: cni.BridgeConfig{
			Network:     b.prefix,
			Name:        *brName,
			Subnet:      *subnet,
			IPAMDataDir: filepath.Join(*dir, "ipam"),
		},
	})
	if err != nil {
		return err
	}
	if err := b.m.CheckPlugins(true); err != nil {
		return err
	}
	b.cc = libcni.NewCNIConfigWithCacheDir(b.m.PluginPath(), filepath.Join(*dir, "cache"), nil)
	deleteLink(*brName) // a leftover of a killed run
	defer b.cleanup()
	if b.port, err = freePort(); err != nil {
		return err
	}

	lo, err := b.loopback(ctx, *nLo, *nLoPlain)
	if err != nil {
		return err
	}
	br, err := b.bridge(ctx, *nBr)
	if err != nil {
		return err
	}
	printTable(lo, br)
	return nil
}

// loopback measures namespace + loopback: ours[0], plain[1].
func (b *bench) loopback(ctx context.Context, n, nPlain int) ([2]series, error) {
	var out [2]series
	list, err := libcni.NetworkConfFromBytes(fmt.Appendf(nil,
		`{"cniVersion":%q,"name":%q,"plugins":[{"type":"loopback"}]}`, cni.CNIVersion, b.prefix+"-lo"))
	if err != nil {
		return out, err
	}
	// The plain run execs the plugin twice (tens of ms on a busy machine),
	// ours takes a few: plain runs on every every-th iteration only, still
	// interleaved with ours.
	every := max(1, n/max(1, nPlain))
	fmt.Fprintf(os.Stderr, "isolation: namespace + loopback, %d iterations of ours, every %d-th also plain\n", n, every)
	const warmup = 5
	for i := range n + warmup {
		plain := i%every == 0
		for k := range 2 {
			first := (i/every)%2 == 0 // alternate who goes first
			var ready, down time.Duration
			var err error
			impl := 0
			switch {
			case (k == 0) == first:
				ready, down, err = b.ours(ctx, fmt.Sprintf("lo%d", i), cni.Request{})
			case plain:
				impl = 1
				ready, down, err = b.plainRun(ctx, list, fmt.Sprintf("%s-plain-lo%d", b.prefix, i), nil, nil)
			default:
				continue
			}
			if err != nil {
				return out, err
			}
			if i >= warmup || (impl == 1 && i >= every) {
				out[impl].add(ready, down)
			}
		}
		if err := ctx.Err(); err != nil {
			return out, err
		}
	}
	return out, nil
}

// bridge measures bridge + portmap with one forward: ours[0], plain[1].
// The first iteration of ours also checks the forward works, reads the
// network list it generated (used as is for plain), and the first plain
// one checks its forward too.
func (b *bench) bridge(ctx context.Context, n int) ([2]series, error) {
	var out [2]series
	fw := cni.Forward{HostPort: b.port, GuestPort: guestPort}
	req := cni.Request{Forwards: []cni.Forward{fw}}
	var list *libcni.NetworkConfigList
	first := func(nsPath, id string) error {
		raw, err := os.ReadFile(filepath.Join(b.m.Config().StateDir, b.m.NamespaceName(id)+".json"))
		if err != nil {
			return err
		}
		var st struct {
			NetConfList json.RawMessage `json:"netConfList"`
		}
		if err := json.Unmarshal(raw, &st); err != nil {
			return fmt.Errorf("parse state: %w", err)
		}
		if list, err = libcni.NetworkConfFromBytes(st.NetConfList); err != nil {
			return err
		}
		return verifyForward(nsPath, b.port)
	}
	// A namespace of ours kept on the bridge for the whole loop: otherwise
	// each of our teardowns deletes the bridge (the last namespace on it)
	// and the next ADD, ours or plain, creates it again. Both sides measure
	// the steady state of a bridge that exists. It comes first: a bridge
	// that plain libcni made would not be ours, and we use no such bridge.
	keeper, err := b.m.Setup(ctx, cni.Request{Mode: cni.ModeNew, ID: "br-keeper", Bridge: true})
	if err != nil {
		return out, fmt.Errorf("bridge + portmap: keep the bridge: %w", err)
	}
	defer keeper.Teardown(ctx)
	if _, _, err := b.oursWith(ctx, "br-check", req, first); err != nil {
		return out, fmt.Errorf("bridge + portmap (ours): %w", err)
	}
	mappings := map[string]any{"portMappings": []map[string]any{
		{"hostPort": int(fw.HostPort), "containerPort": int(fw.GuestPort), "protocol": fw.Proto()},
	}}
	check := func(nsPath string) error { return verifyForward(nsPath, b.port) }
	if _, _, err := b.plainRun(ctx, list, b.prefix+"-plain-br-check", mappings, check); err != nil {
		return out, fmt.Errorf("bridge + portmap (plain libcni): %w", err)
	}
	fmt.Fprintf(os.Stderr, "isolation: bridge + portmap (forward %s checked for both), %d iterations each\n", fw, n)
	const warmup = 2
	for i := range n + warmup {
		for k := range 2 {
			impl := (i + k) % 2
			var ready, down time.Duration
			var err error
			if impl == 0 {
				ready, down, err = b.ours(ctx, fmt.Sprintf("br%d", i), req)
			} else {
				ready, down, err = b.plainRun(ctx, list, fmt.Sprintf("%s-plain-br%d", b.prefix, i), mappings, nil)
			}
			if err != nil {
				return out, err
			}
			if i >= warmup {
				out[impl].add(ready, down)
			}
		}
		if err := ctx.Err(); err != nil {
			return out, err
		}
	}
	return out, nil
}

func (b *bench) ours(ctx context.Context, id string, req cni.Request) (ready, down time.Duration, err error) {
	return b.oursWith(ctx, id, req, nil)
}

// oursWith times Setup (ready) and Teardown of a new namespace with id;
// check, if set, runs between them, untimed.
func (b *bench) oursWith(ctx context.Context, id string, req cni.Request, check func(nsPath, id string) error) (ready, down time.Duration, err error) {
	req.Mode, req.ID = cni.ModeNew, id
	t0 := time.Now()
	n, err := b.m.Setup(ctx, req)
	if err != nil {
		return 0, 0, err
	}
	t1 := time.Now()
	if check != nil {
		if err := check(n.Path, id); err != nil {
			n.Teardown(ctx)
			return 0, 0, err
		}
		t1 = time.Now()
	}
	if err := n.Teardown(ctx); err != nil {
		return 0, 0, err
	}
	return t1.Sub(t0), time.Since(t1), nil
}

// plainRun times what a plain libcni user does: testutils.NewNS, then
// AddNetworkList (ready); DelNetworkList, close and unmount (teardown).
func (b *bench) plainRun(ctx context.Context, list *libcni.NetworkConfigList, id string, caps map[string]any, check func(nsPath string) error) (ready, down time.Duration, err error) {
	t0 := time.Now()
	netns, err := testutils.NewNS()
	if err != nil {
		return 0, 0, fmt.Errorf("plain: create namespace: %w", err)
	}
	path := netns.Path()
	rc := &libcni.RuntimeConf{ContainerID: id, NetNS: path, IfName: "eth0", CapabilityArgs: caps}
	del := func(ctx context.Context) error { return b.cc.DelNetworkList(ctx, list, rc) }
	b.plain[path] = del
	if _, err := b.cc.AddNetworkList(ctx, list, rc); err != nil {
		return 0, 0, fmt.Errorf("plain: add %s: %w", list.Name, err)
	}
	t1 := time.Now()
	if check != nil {
		if err := check(path); err != nil {
			return 0, 0, err
		}
		t1 = time.Now()
	}
	if err := del(ctx); err != nil {
		return 0, 0, fmt.Errorf("plain: delete %s: %w", list.Name, err)
	}
	netns.Close()
	if err := testutils.UnmountNS(netns); err != nil {
		return 0, 0, fmt.Errorf("plain: %w", err)
	}
	delete(b.plain, path)
	return t1.Sub(t0), time.Since(t1), nil
}

// cleanup removes everything left: our namespaces (teardown from state,
// then any namespace file with the prefix), the plain namespaces (DEL,
// unmount), the bridge. The iptables chains portmap shares between all
// its users (CNI-HOSTPORT-*) stay; DEL removed the per-container ones.
func (b *bench) cleanup() {
	ctx := context.Background()
	if l, err := b.m.List(); err == nil {
		for _, n := range l {
			if err := n.Teardown(ctx); err != nil {
				fmt.Fprintf(os.Stderr, "isolation: cleanup %s: %v\n", n.Name, err)
			}
		}
	}
	netnsDir := b.m.Config().NetnsDir
	ents, _ := os.ReadDir(netnsDir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), b.prefix+"-") {
			removeNetns(filepath.Join(netnsDir, e.Name()))
		}
	}
	for path, del := range b.plain {
		if err := del(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "isolation: cleanup %s: %v\n", path, err)
		}
		removeNetns(path)
	}
	deleteLink(b.m.Config().Bridge.Name)
}

func removeNetns(path string) {
	unix.Unmount(path, unix.MNT_DETACH)
	os.Remove(path)
}

func deleteLink(name string) {
	if l, err := netlink.LinkByName(name); err == nil {
		netlink.LinkDel(l)
	}
}

// freePort returns a port free for TCP on every host address.
func freePort() (uint16, error) {
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port), nil
}

// verifyForward listens on guestPort inside the namespace at nsPath and
// checks a connection to 127.0.0.1:port on the host reaches it.
func verifyForward(nsPath string, port uint16) error {
	var l net.Listener
	err := ns.WithNetNSPath(nsPath, func(ns.NetNS) (err error) {
		l, err = net.Listen("tcp", fmt.Sprintf(":%d", guestPort))
		return err
	})
	if err != nil {
		return fmt.Errorf("listen in %s: %w", nsPath, err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.Write([]byte("ok\n"))
			c.Close()
		}
	}()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return fmt.Errorf("check forward %s -> %s:%d: %w", addr, nsPath, guestPort, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 3)
	if _, err := c.Read(buf); err != nil || string(buf) != "ok\n" {
		return fmt.Errorf("check forward %s -> %s:%d: read %q: %v", addr, nsPath, guestPort, buf, err)
	}
	return nil
}

// printTable prints the namespace table and the aims.
func printTable(lo, br [2]series) {
	fmt.Println("| scenario | implementation | ready: median (mean) | teardown: median (mean) | setup+teardown: median (mean) | ready vs plain (median) | total vs plain (median) |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|")
	row := func(scenario, impl string, s, plain series) {
		impl = fmt.Sprintf("%s (%d runs)", impl, len(s.ready))
		r, p := "1.00x", "1.00x"
		if plain.ready != nil {
			r = ratio(median(s.ready), median(plain.ready))
			p = ratio(median(s.total()), median(plain.total()))
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %s |\n", scenario, impl,
			medMean(s.ready), medMean(s.teardown), medMean(s.total()), r, p)
	}
	loName := "namespace + loopback"
	brName := "bridge + portmap, 1 forward"
	row(loName, "wasmrun cni.Manager", lo[0], lo[1])
	row(loName, "plain libcni: NewNS + loopback plugin", lo[1], series{})
	row(brName, "wasmrun cni.Manager", br[0], br[1])
	row(brName, "plain libcni: NewNS + bridge, portmap", br[1], series{})
	fmt.Println()
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	if len(lo[0].ready) == 0 || len(br[0].ready) == 0 || len(br[1].ready) == 0 {
		return
	}
	loReady := median(lo[0].ready)
	fmt.Printf("- Aim: namespace + loopback ready under 2 ms: median %s, %s.\n", ms(loReady), met(loReady < 2*time.Millisecond))
	rr := float64(median(br[0].ready)) / float64(median(br[1].ready))
	rt := float64(median(br[0].total())) / float64(median(br[1].total()))
	fmt.Printf("- Aim: bridge + portmap within 10%% of plain libcni: ready %.2fx, setup+teardown %.2fx (medians), %s.\n",
		rr, rt, met(rr <= 1.10 && rt <= 1.10))
}
