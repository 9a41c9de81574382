package main

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/wasmrun/wasmrun/internal/trust"
	"github.com/wasmrun/wasmrun/oci"
)

// Without root, `wasmrun os` isolates an app in an unprivileged user +
// network namespace (oci's rootless mode) and forwards ports with the
// userspace forwarder. Where the kernel does not allow that, it refuses:
// it never falls back to the host network on its own.

// denyUserNSEnv is test-only: when set (to a reason) and wasmrun runs
// without root, it behaves as if unprivileged user namespaces were
// disabled for that reason. It can only make wasmrun refuse, never allow.
const denyUserNSEnv = "WASMRUN_TEST_DENY_USERNS"

// userStateRoot is the state root of a user without root, in a place of
// the user's own: $XDG_RUNTIME_DIR/wasmrun; else the runtime directory
// logind made for the uid (/run/user/<uid>, when su or runuser dropped
// the variable); else $XDG_STATE_HOME/wasmrun, or ~/.local/state/wasmrun
// in the home directory of the uid's passwd entry; and only without any
// of them /tmp/wasmrun-<uid>, where another user could take the name
// first (the state root is then refused, never used).
func userStateRoot() string {
	uid := os.Geteuid()
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return filepath.Join(d, "wasmrun")
		}
	}
	owned := func(d string) bool {
		var st syscall.Stat_t
		return syscall.Stat(d, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFDIR && int(st.Uid) == uid
	}
	if d := filepath.Join("/run/user", strconv.Itoa(uid)); owned(d) {
		return filepath.Join(d, "wasmrun")
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) && owned(d) {
		return filepath.Join(d, "wasmrun")
	}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil && u.HomeDir != "" && filepath.IsAbs(u.HomeDir) && owned(u.HomeDir) {
		return filepath.Join(u.HomeDir, ".local", "state", "wasmrun")
	}
	return filepath.Join(os.TempDir(), "wasmrun-"+strconv.Itoa(uid))
}

// ensureStateRoot creates the state root if missing (mode 0700) and
// checks it is a directory of the caller's that nobody else can write,
// whoever chose it (the default, or WASMRUN_STATE_DIR): its state files
// name the processes stop kills, the hooks, namespaces and cgroups that
// clean-up runs and removes, as the caller (root, often). In a shared
// /tmp another user could have made a user's default one first.
func ensureStateRoot(root string) error {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	return checkStateRoot(root)
}

// checkStateRoot is ensureStateRoot for commands that only read the
// state: a root that does not exist holds no app. Beyond the root itself,
// the way to it (package trust: no directory or link on it that another
// user could change) and the directories in it wasmrun reads are checked.
func checkStateRoot(root string) error {
	if _, err := os.Lstat(root); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := checkPrivateDir(root, os.Geteuid()); err != nil {
		return err
	}
	if err := trust.Path(root); err != nil {
		return fmt.Errorf("state dir %s: %w (set WASMRUN_STATE_DIR to a directory of yours)", root, err)
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("check state dir: %w", err)
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			return fmt.Errorf("check state dir: %w", err)
		}
		if err := trust.Entry(filepath.Join(root, e.Name()), fi); err != nil {
			return fmt.Errorf("state dir %s: %w (remove it)", root, err)
		}
	}
	return nil
}

// checkPrivateDir checks path is a directory (not a symlink) owned by uid
// that nobody else can write.
func checkPrivateDir(path string, uid int) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("check state dir: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != uid || fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("state dir %s is not a directory owned by uid %d and writable only by it (remove it, or set WASMRUN_STATE_DIR)", path, uid)
	}
	return nil
}

// checkRootless refuses, before anything is created, an isolated app that
// this user cannot have: no unprivileged user namespaces, or a bridge.
func checkRootless(a *app) error {
	ok, reason := oci.UserNamespacesAllowed()
	if r := os.Getenv(denyUserNSEnv); r != "" {
		ok, reason = false, r
	}
	if !ok {
		return noIsolationError(reason)
	}
	if a.bridge {
		return errors.New("bridge = true needs root (CNI plugins); without root an app has its own loopback and --forward only (run as root, or drop bridge from [network] of " + ConfigName + ")")
	}
	return nil
}

// noIsolationError is the one error of a user who can have neither root
// nor user namespaces.
func noIsolationError(reason string) error {
	return fmt.Errorf("network isolation needs root or unprivileged user namespaces (%s); run as root, or set isolation = false in [network] of %s to share the host network", reason, ConfigName)
}

// rootlessError turns oci's ErrUserNamespaces (the kernel refused the
// namespace although the sysctls allow it, e.g. a seccomp policy) into the
// same advice.
func rootlessError(err error) error {
	if errors.Is(err, oci.ErrUserNamespaces) {
		return noIsolationError(err.Error())
	}
	return err
}
