package oci

import (
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestSysctls: only sysctls of namespaces the container has of its own
// pass, in a stable order; malformed names and any that would change the
// host are refused with their name.
func TestSysctls(t *testing.T) {
	both := uintptr(syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS)
	for _, tc := range []struct {
		ctl     map[string]string
		own     uintptr
		hostNet bool
		err     string // "" for allowed
	}{
		{map[string]string{"net.ipv4.ip_unprivileged_port_start": "0", "net.ipv4.ping_group_range": "0 2147483647"}, 0, false, ""},
		{map[string]string{"net.ipv4.ip_forward": "1"}, both, true, "shares the host's network namespace"},
		{map[string]string{"kernel.shmmax": "1000", "fs.mqueue.msg_max": "20"}, syscall.CLONE_NEWIPC, false, ""},
		{map[string]string{"kernel.shmmax": "1000"}, syscall.CLONE_NEWUTS, false, "no IPC namespace"},
		{map[string]string{"kernel.domainname": "x"}, syscall.CLONE_NEWUTS, false, ""},
		{map[string]string{"kernel.domainname": "x"}, syscall.CLONE_NEWIPC, false, "no UTS namespace"},
		{map[string]string{"kernel.panic": "7"}, both, false, "not in a kernel namespace"},
		{map[string]string{"vm.overcommit_memory": "1"}, both, false, "not in a kernel namespace"},
		{map[string]string{"net..ipv4": "1"}, both, false, "not a sysctl name"},
		{map[string]string{"net.ipv4/../../kernel/panic": "1"}, both, false, "not a sysctl name"},
		{map[string]string{"net.": "1"}, both, false, "not a sysctl name"},
	} {
		got, err := sysctls(&specs.Spec{Linux: &specs.Linux{Sysctl: tc.ctl}}, tc.own, tc.hostNet)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%v: %v", tc.ctl, err)
		case tc.err == "" && len(got) != len(tc.ctl):
			t.Errorf("%v: got %v", tc.ctl, got)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%v: error %v, want one saying %q", tc.ctl, err, tc.err)
		}
	}
	got, _ := sysctls(&specs.Spec{Linux: &specs.Linux{Sysctl: map[string]string{"net.b": "2", "net.a": "1"}}}, 0, false)
	if len(got) != 2 || got[0].Key != "net.a" {
		t.Errorf("order: %v, want net.a first", got)
	}
}
