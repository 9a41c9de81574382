package cni

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestCreateLoopback(t *testing.T) {
	e := newTestEnv(t)
	n := e.setup(Request{Mode: ModeNew, ID: e.id()})
	if n.Path != filepath.Join("/run/netns", n.Name) || n.Name != e.prefix+"-"+n.ID {
		t.Fatalf("namespace %q at %q", n.Name, n.Path)
	}
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil || !strings.Contains(string(out), n.Name) {
		t.Fatalf("ip netns list (%v) does not show %s:\n%s", err, n.Name, out)
	}
	var up bool
	var links int
	if err := n.Do(func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		up = lo.Attrs().Flags&net.FlagUp != 0
		all, err := netlink.LinkList()
		links = len(all)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !up || links != 1 {
		t.Fatalf("inside: lo up=%v, %d links (want up, only lo)", up, links)
	}
	if _, err := os.Stat(e.m.statePath(n.Name)); err != nil {
		t.Fatalf("no state file: %v", err)
	}
	if !strings.Contains(e.log.String(), "created namespace "+n.Name) || !strings.Contains(e.log.String(), "lo up") {
		t.Errorf("log lacks steps:\n%s", e.log)
	}
	if err := n.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.assertGone(n.Name)
	if err := n.Teardown(context.Background()); err != nil {
		t.Fatalf("second teardown: %v", err)
	}
}

// Two namespaces both listen on 127.0.0.1:8080; each answers its own.
func TestTwoNamespacesSamePort(t *testing.T) {
	e := newTestEnv(t)
	a := e.setup(Request{Mode: ModeNew, ID: e.id()})
	b := e.setup(Request{Mode: ModeNew, ID: e.id()})
	sa := startEcho(t, a, "127.0.0.1:8080", "A", false)
	sb := startEcho(t, b, "127.0.0.1:8080", "B", false)
	// Each listener is in its own namespace, neither in the host's.
	ca, cb := cookieOf(t, sa.l.(*net.TCPListener)), cookieOf(t, sb.l.(*net.TCPListener))
	host := nsCookie(t, &Namespace{Mode: ModeHost})
	if ca != nsCookie(t, a) || cb != nsCookie(t, b) || ca == cb || ca == host || cb == host {
		t.Fatalf("netns cookies: listener A %d (ns %d), B %d (ns %d), host %d", ca, nsCookie(t, a), cb, nsCookie(t, b), host)
	}
	for _, c := range []struct {
		n    *Namespace
		want string
	}{{a, "A: hi"}, {b, "B: hi"}, {a, "A: hi"}} {
		var got string
		err := c.n.Do(func() (err error) { got, err = askTCP("127.0.0.1:8080", "hi"); return })
		if err != nil || got != c.want {
			t.Fatalf("in %s: got %q, %v; want %q", c.n.Name, got, err, c.want)
		}
	}
}

// A listener on the host's 127.0.0.1 is not reachable from inside.
func TestHostLoopbackNotReachable(t *testing.T) {
	e := newTestEnv(t)
	n := e.setup(Request{Mode: ModeNew, ID: e.id()})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("host\n"))
			c.Close()
		}
	}()
	// Sanity: reachable from the host.
	if _, err := askTCP(l.Addr().String(), "x"); err != nil && !strings.Contains(err.Error(), "EOF") {
		t.Fatalf("host listener not reachable from host: %v", err)
	}
	err = n.Do(func() error {
		c, err := net.Dial("tcp", l.Addr().String())
		if err == nil {
			c.Close()
		}
		return err
	})
	if err == nil {
		t.Fatal("host's 127.0.0.1 listener reachable from inside the namespace")
	}
	if !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("dial from inside: %v (want connection refused)", err)
	}
}
