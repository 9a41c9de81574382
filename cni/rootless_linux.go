package cni

import (
	"os"
	"strconv"
	"strings"
)

// Rootless reports whether this process lacks root (effective uid != 0),
// i.e. cannot create named namespaces under /run/netns or run CNI plugins.
func Rootless() bool { return os.Geteuid() != 0 }

// procSys is /proc/sys; tests point it elsewhere.
var procSys = "/proc/sys"

// UserNamespacesAllowed reports whether an unprivileged process may create
// a user namespace here (the way to get a network namespace without root).
// When not, reason names the setting that forbids it and how to change it:
//   - kernel.unprivileged_userns_clone = 0 (Debian/Ubuntu patch),
//   - user.max_user_namespaces = 0,
//   - kernel.apparmor_restrict_unprivileged_userns = 1 (Ubuntu 23.10+).
//
// It reads sysctls only; it does not try to create a namespace.
func UserNamespacesAllowed() (ok bool, reason string) {
	if v, found := readSysctl("kernel/unprivileged_userns_clone"); found && v == 0 {
		return false, "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0; enable with: sysctl -w kernel.unprivileged_userns_clone=1)"
	}
	if v, found := readSysctl("user/max_user_namespaces"); found && v == 0 {
		return false, "user namespaces are disabled (user.max_user_namespaces = 0; enable with: sysctl -w user.max_user_namespaces=15000)"
	}
	if v, found := readSysctl("kernel/apparmor_restrict_unprivileged_userns"); found && v != 0 {
		return false, "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1; allow with an AppArmor profile granting userns, or sysctl -w kernel.apparmor_restrict_unprivileged_userns=0)"
	}
	return true, ""
}

func readSysctl(name string) (int64, bool) {
	b, err := os.ReadFile(procSys + "/" + name)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, false
	}
	return v, true
}
