package cni

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
)

// Parallel Setups with forwards on one bridge each get their own address
// and forward; parallel teardowns leave nothing.
func TestParallelBridge(t *testing.T) {
	requirePlugins(t, "bridge", "host-local", "portmap")
	e := newTestEnv(t)
	ctx := context.Background()
	const k = 4
	ports := make([]uint16, k)
	for i := range ports {
		ports[i] = freePort(t)
	}
	nss := make([]*Namespace, k)
	errs := make([]error, k)
	var wg sync.WaitGroup
	for i := range k {
		wg.Go(func() {
			nss[i], errs[i] = e.m.Setup(ctx, Request{Mode: ModeNew, ID: fmt.Sprint("p", i),
				Forwards: []Forward{{HostIP: "127.0.0.1", HostPort: ports[i], GuestPort: 3000}}})
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range k {
		if errs[i] != nil {
			t.Fatalf("Setup %d: %v", i, errs[i])
		}
		a := nss[i].Addrs[0].Addr().String()
		if seen[a] {
			t.Fatalf("address %s given twice", a)
		}
		seen[a] = true
		startEcho(t, nss[i], ":3000", fmt.Sprint("n", i), false)
	}
	for i := range k {
		want := fmt.Sprintf("n%d: q", i)
		if got, err := askTCP(fmt.Sprintf("127.0.0.1:%d", ports[i]), "q"); err != nil || got != want {
			t.Fatalf("forward %d: %q, %v; want %q", i, got, err, want)
		}
	}
	for i := range k {
		wg.Go(func() { errs[i] = nss[i].Teardown(ctx) })
	}
	wg.Wait()
	for i := range k {
		if errs[i] != nil {
			t.Fatalf("Teardown %d: %v", i, errs[i])
		}
		e.assertGone(nss[i].Name, ports[i])
	}
}

// GC running over and over while other runs create and tear down their
// namespaces never removes a live one.
func TestGCConcurrentWithLiveRuns(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	stop := make(chan struct{})
	var gcRemoved atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			removed, _ := e.m.GC(ctx, "")
			gcRemoved.Add(int64(len(removed)))
		}
	})
	for i := range 30 {
		n, err := e.m.Setup(ctx, Request{Mode: ModeNew, ID: fmt.Sprint("g", i)})
		if err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("Setup %d: %v", i, err)
		}
		if _, err := os.Stat(n.Path); err != nil {
			t.Errorf("namespace %s vanished while live: %v", n.Name, err)
		}
		if err := n.Do(func() error { return nil }); err != nil {
			t.Errorf("enter %s: %v", n.Name, err)
		}
		if err := n.Teardown(ctx); err != nil {
			t.Errorf("Teardown %d: %v", i, err)
		}
	}
	close(stop)
	wg.Wait()
	if r := gcRemoved.Load(); r != 0 {
		t.Fatalf("GC removed %d namespaces of live runs", r)
	}
}

// ModeJoin uses an existing namespace and leaves it alone; ModeHost does
// nothing at all.
func TestJoinAndHost(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	owner := e.setup(Request{Mode: ModeNew, ID: e.id()})
	j, err := e.m.Setup(ctx, Request{Mode: ModeJoin, Path: owner.Path})
	if err != nil {
		t.Fatal(err)
	}
	startEcho(t, owner, "127.0.0.1:7000", "own", false)
	var got string
	if err := j.Do(func() (err error) { got, err = askTCP("127.0.0.1:7000", "j"); return }); err != nil || got != "own: j" {
		t.Fatalf("joined namespace: %q, %v", got, err)
	}
	if err := j.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(owner.Path); err != nil {
		t.Fatalf("teardown of a joined namespace removed it: %v", err)
	}
	if _, err := e.m.Setup(ctx, Request{Mode: ModeJoin, Path: t.TempDir()}); err == nil {
		t.Fatal("joining a directory succeeded")
	}
	if _, err := e.m.Setup(ctx, Request{Mode: ModeJoin, Path: owner.Path, Forwards: []Forward{{HostPort: 1, GuestPort: 1}}}); err == nil {
		t.Fatal("forwards into a joined namespace accepted")
	}
	h, err := e.m.Setup(ctx, Request{Mode: ModeHost})
	if err != nil || h.Path != "" {
		t.Fatalf("host mode: %+v, %v", h, err)
	}
	ran := false
	if err := h.Do(func() error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("host Do: %v", err)
	}
	if err := h.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Setup(ctx, Request{Mode: ModeHost, Forwards: []Forward{{HostPort: 1, GuestPort: 1}}}); err == nil {
		t.Fatal("forwards in host mode accepted")
	}
}
