package initproc

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestSeccompPolicy: a profile translates to a filter, unknown syscalls
// are skipped, and what cannot be expressed exactly is refused, never
// approximated.
func TestSeccompPolicy(t *testing.T) {
	eperm, enosys := uint(1), uint(38)
	ok := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"read", "write", "no_such_syscall"}, Action: specs.ActAllow},
		{Names: []string{"clone"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0x7E020000, Op: specs.OpMaskedEqual}}},
		{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}}},
		{Names: []string{"unlinkat"}, Action: specs.ActErrno, ErrnoRet: &enosys},
	}}
	if _, err := seccompPolicy(ok); err != nil {
		t.Fatalf("a profile like containerd's: %v", err)
	}
	for _, tc := range []struct {
		name string
		p    *specs.LinuxSeccomp
		want string
	}{
		{"default errno not EPERM", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: &enosys}, "other than EPERM"},
		{"masked comparison", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"clone"}, Action: specs.ActErrno, ErrnoRet: &eperm, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 3, ValueTwo: 1, Op: specs.OpMaskedEqual}}},
		}}, "masked comparison"},
		{"unknown action", &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOTIFY"}, "not supported"},
	} {
		if _, err := seccompPolicy(tc.p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error about %q", tc.name, err, tc.want)
		}
	}
}
