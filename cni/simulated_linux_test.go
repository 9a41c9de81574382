package cni

import (
	"context"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// TestPlanSimulated: Options.Simulated plans NetSimulated, for a spec
// with or without a namespace of its own, and refuses a namespace to
// join, a bridge and forwards that claim a host port twice before
// anything is made; its Prepare hands the process the port table's file
// and the blocked addresses, and its record has no namespace.
func TestPlanSimulated(t *testing.T) {
	for _, target := range []Target{{ID: "x"}, {ID: "x", Host: true}} {
		n, err := Plan(Config{}, target, Options{Simulated: true})
		if err != nil {
			t.Fatalf("Plan(%+v): %v", target, err)
		}
		if n.Mode() != NetSimulated || !strings.HasPrefix(n.Mode().Describe(), "simulated (") {
			t.Errorf("Plan(%+v) = %s (%s)", target, n.Mode(), n.Mode().Describe())
		}
	}
	for _, tc := range []struct {
		t    Target
		o    Options
		want string
	}{
		{Target{Join: "/proc/1/ns/net"}, Options{Simulated: true}, "cannot join"},
		{Target{ID: "x"}, Options{Simulated: true, Bridge: true}, "bridge"},
		{Target{ID: "x"}, Options{Simulated: true, Forwards: []Forward{{HostPort: 9, GuestPort: 80}, {HostPort: 9, GuestPort: 81}}}, "both claim host port 9/tcp"},
	} {
		if _, err := Plan(Config{}, tc.t, tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Plan(%+v, %+v): %v, want an error with %q", tc.t, tc.o, err, tc.want)
		}
	}

	n, err := Plan(Config{}, Target{ID: "x"}, Options{Simulated: true, Outbound: true})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("true")
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	child, err := n.Prepare(context.Background(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Teardown(context.Background())
	if s := child.Simulated; s == nil || s.PortsFD != 3 || len(s.Blocked) == 0 || child.DialFD != 0 {
		t.Errorf("child = %+v (simulated %+v), want the ports file at fd 3, blocked addresses, no dial fd", child, s)
	}
	if len(cmd.ExtraFiles) != 1 || n.Path() != "" {
		t.Errorf("extra files %v, path %q", cmd.ExtraFiles, n.Path())
	}
	if err := n.Started(4242, nil); err != nil {
		t.Fatal(err)
	}
	if rec := n.Record(); rec.Mode != NetSimulated || rec.Path != "" || rec.Name != "" || rec.Ports != "/proc/4242/fd/3" {
		t.Errorf("record %+v", rec)
	}
}
