package cni

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUserNamespacesAllowed(t *testing.T) {
	write := func(dir, name, v string) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := procSys
	t.Cleanup(func() { procSys = old })
	for _, c := range []struct {
		files   map[string]string
		ok      bool
		errPart string
	}{
		{map[string]string{}, true, ""},
		{map[string]string{"user/max_user_namespaces": "1000", "kernel/unprivileged_userns_clone": "1"}, true, ""},
		{map[string]string{"kernel/unprivileged_userns_clone": "0"}, false, "kernel.unprivileged_userns_clone = 0"},
		{map[string]string{"user/max_user_namespaces": "0"}, false, "user.max_user_namespaces = 0"},
		{map[string]string{"kernel/apparmor_restrict_unprivileged_userns": "1"}, false, "AppArmor"},
		{map[string]string{"kernel/apparmor_restrict_unprivileged_userns": "0"}, true, ""},
	} {
		procSys = t.TempDir()
		for k, v := range c.files {
			write(procSys, k, v)
		}
		ok, reason := UserNamespacesAllowed()
		if ok != c.ok || !strings.Contains(reason, c.errPart) || (ok && reason != "") {
			t.Errorf("%v: got %v %q, want %v %q", c.files, ok, reason, c.ok, c.errPart)
		}
	}
	procSys = old
	ok, reason := UserNamespacesAllowed()
	t.Logf("this machine: allowed=%v %s; rootless=%v", ok, reason, Rootless())
	if Rootless() != (os.Geteuid() != 0) {
		t.Fatal("Rootless disagrees with euid")
	}
}
