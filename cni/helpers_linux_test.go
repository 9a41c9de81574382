package cni

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// testEnv is one test's private world: prefix, dirs, bridge and subnet.
type testEnv struct {
	t      *testing.T
	m      *Manager
	cfg    Config
	prefix string
	log    *logBuf
}

type logBuf struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuf) logf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

var subnetSeq atomic.Uint32

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces")
	}
}

func requirePlugins(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := os.Stat(filepath.Join("/usr/lib/cni", n)); err != nil {
			if _, err := os.Stat(filepath.Join("/opt/cni/bin", n)); err != nil {
				t.Skipf("needs CNI plugin %s (/usr/lib/cni or /opt/cni/bin): apt-get install containernetworking-plugins", n)
			}
		}
	}
}

// newTestEnv returns a Manager with a unique prefix ("wrt" + 6 hex), private
// state/cache/IPAM dirs, its own bridge and /24 subnet. Cleanup tears down
// every namespace with the prefix, removes the bridge, and runs even when
// the test fails.
func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	requireRoot(t)
	var b [3]byte
	rand.Read(b[:])
	prefix := "wrt" + hex.EncodeToString(b[:])
	dir := t.TempDir()
	// 10.239.N.0/24, N distinct per test in this process and random across runs.
	n := (int(b[0]) + int(subnetSeq.Add(1))) % 250
	lb := &logBuf{}
	cfg := Config{
		Prefix:   prefix,
		StateDir: filepath.Join(dir, "state"),
		CacheDir: filepath.Join(dir, "cache"),
		Bridge: BridgeConfig{
			Network:     prefix,
			Name:        prefix + "br",
			Subnet:      fmt.Sprintf("10.239.%d.0/24", n),
			IPAMDataDir: filepath.Join(dir, "ipam"),
		},
		Log: func(format string, args ...any) {
			lb.logf(format, args...)
			t.Logf("cni: "+format, args...)
		},
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, m: m, cfg: m.Config(), prefix: prefix, log: lb}
	t.Cleanup(e.cleanup)
	return e
}

func (e *testEnv) cleanup() {
	ctx := context.Background()
	// Everything still recorded: tear down regardless of owner.
	names, _ := e.m.stateNames(e.prefix)
	for _, n := range names {
		if err := e.m.teardown(ctx, n); err != nil {
			e.t.Logf("cleanup %s: %v", n, err)
		}
	}
	ents, _ := os.ReadDir(e.cfg.NetnsDir)
	for _, ent := range ents {
		if strings.HasPrefix(ent.Name(), e.prefix+"-") {
			deleteNetns(filepath.Join(e.cfg.NetnsDir, ent.Name()))
		}
	}
	if l, err := netlink.LinkByName(e.cfg.Bridge.Name); err == nil {
		netlink.LinkDel(l)
	}
}

func (e *testEnv) setup(req Request) *Namespace {
	e.t.Helper()
	n, err := e.m.Setup(context.Background(), req)
	if err != nil {
		e.t.Fatalf("Setup(%+v): %v", req, err)
	}
	e.t.Cleanup(func() { n.Teardown(context.Background()) })
	return n
}

func (e *testEnv) id() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// assertGone checks nothing of namespace n is left: netns file, state,
// host-side veth on our bridge, IPAM lease, NAT rules naming its ports or
// its CNI container id.
func (e *testEnv) assertGone(name string, ports ...uint16) {
	e.t.Helper()
	if _, err := os.Lstat(filepath.Join(e.cfg.NetnsDir, name)); !errors.Is(err, os.ErrNotExist) {
		e.t.Errorf("netns file %s still there (%v)", name, err)
	}
	if out, _ := exec.Command("ip", "netns", "list").CombinedOutput(); strings.Contains(string(out), name) {
		e.t.Errorf("ip netns list still shows %s:\n%s", name, out)
	}
	if _, err := os.Lstat(e.m.statePath(name)); !errors.Is(err, os.ErrNotExist) {
		e.t.Errorf("state file of %s still there (%v)", name, err)
	}
	if leases := e.leases(); len(leases) > 0 {
		e.t.Errorf("IPAM leases left: %v", leases)
	}
	if n := e.bridgePorts(); n > 0 {
		e.t.Errorf("%d veth(s) still on bridge %s", n, e.cfg.Bridge.Name)
	}
	rules := natRules(e.t)
	for _, p := range ports {
		if hasPortRule(rules, p) {
			e.t.Errorf("NAT rule for port %d left:\n%s", p, grepLines(rules, strconv.Itoa(int(p))))
		}
	}
	if strings.Contains(rules, name) {
		e.t.Errorf("NAT rule naming %s left:\n%s", name, grepLines(rules, name))
	}
}

// leases lists host-local lease files (named by IP) in our IPAM dir.
func (e *testEnv) leases() []string {
	var out []string
	filepath.WalkDir(e.cfg.Bridge.IPAMDataDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && net.ParseIP(d.Name()) != nil {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// bridgePorts counts links enslaved to our bridge.
func (e *testEnv) bridgePorts() int {
	br, err := netlink.LinkByName(e.cfg.Bridge.Name)
	if err != nil {
		return 0
	}
	links, err := netlink.LinkList()
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			n++
		}
	}
	return n
}

// natRules returns iptables-save (nat) plus nft list ruleset output.
func natRules(t *testing.T) string {
	t.Helper()
	var sb strings.Builder
	if out, err := exec.Command("iptables-save", "-t", "nat").CombinedOutput(); err == nil {
		sb.Write(out)
	}
	if out, err := exec.Command("nft", "list", "ruleset").CombinedOutput(); err == nil {
		sb.Write(out)
	}
	return sb.String()
}

// hasPortRule reports whether a NAT rule matches destination port port
// (iptables "--dport P", "--dports A,P", nft "dport P", "dport { A, P }").
func hasPortRule(rules string, port uint16) bool {
	p := strconv.Itoa(int(port))
	for _, l := range strings.Split(rules, "\n") {
		if !strings.Contains(l, "dport") {
			continue
		}
		for _, f := range strings.FieldsFunc(l, func(r rune) bool { return strings.ContainsRune(" ,{}", r) }) {
			if f == p {
				return true
			}
		}
	}
	return false
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// freePort returns a host port currently free for both TCP and UDP on
// 0.0.0.0.
func freePort(t *testing.T) uint16 {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "0.0.0.0:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("0.0.0.0:%d", p))
		l.Close()
		if err == nil {
			u.Close()
			return uint16(p)
		}
	}
	t.Fatal("no free port")
	return 0
}

// echoServer is a TCP (and optionally UDP) server started inside a
// namespace: it answers each line with tag + ": " + line.
type echoServer struct {
	l net.Listener
	u net.PacketConn
}

// startEcho listens on addr inside n (sockets are made in n through Do; the
// accept loops then run on ordinary goroutines) and stops at test cleanup.
func startEcho(t *testing.T, n *Namespace, addr, tag string, udp bool) *echoServer {
	t.Helper()
	s := &echoServer{}
	err := n.Do(func() error {
		var err error
		if s.l, err = net.Listen("tcp", addr); err != nil {
			return err
		}
		if udp {
			s.u, err = net.ListenPacket("udp", addr)
		}
		return err
	})
	if err != nil {
		t.Fatalf("listen %s in %s: %v", addr, n.Name, err)
	}
	t.Cleanup(func() {
		s.l.Close()
		if s.u != nil {
			s.u.Close()
		}
	})
	go func() {
		for {
			c, err := s.l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					io.WriteString(c, tag+": "+line)
				}
			}()
		}
	}()
	if s.u != nil {
		go func() {
			buf := make([]byte, 2048)
			for {
				k, from, err := s.u.ReadFrom(buf)
				if err != nil {
					return
				}
				s.u.WriteTo(append([]byte(tag+": "), buf[:k]...), from)
			}
		}()
	}
	return s
}

// askTCP connects to addr (from the calling thread's namespace), sends msg
// and returns the answer line.
func askTCP(addr, msg string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSuffix(line, "\n"), err
}

// askUDP sends msg to addr and returns the reply, retrying a few times
// (UDP may drop the first datagram while conntrack/ARP settle).
func askUDP(addr, msg string) (string, error) {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	buf := make([]byte, 2048)
	var lastErr error
	for range 5 {
		if _, err := c.Write([]byte(msg)); err != nil {
			lastErr = err
			continue
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		k, err := c.Read(buf)
		if err == nil {
			return string(buf[:k]), nil
		}
		lastErr = err
	}
	return "", lastErr
}

// cookieOf returns SO_NETNS_COOKIE of a socket: which namespace it is in.
func cookieOf(t *testing.T, c syscall.Conn) uint64 {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v uint64
	var gerr error
	if err := raw.Control(func(fd uintptr) { v, gerr = unix.GetsockoptUint64(int(fd), unix.SOL_SOCKET, unix.SO_NETNS_COOKIE) }); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatalf("SO_NETNS_COOKIE: %v", gerr)
	}
	return v
}

// nsCookie returns the cookie of namespace n (of a socket made in it).
func nsCookie(t *testing.T, n *Namespace) uint64 {
	t.Helper()
	var v uint64
	if err := n.Do(func() error {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer c.Close()
		v = cookieOf(t, c.(*net.UDPConn))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return v
}
