//go:build linux || darwin || windows

package main

import (
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Who an app runs as. `wasmrun os` as root does not run apps as root: the
// container process becomes an unprivileged user before it opens any of
// the app's files, with no capabilities and no_new_privs:
//
//   - the `user` key of .wasmrun.toml ("1000", "1000:1000", "www-data"),
//     when set;
//   - else the owner of the app directory, when that is not root;
//   - else nobody (65534:65534), when nobody can read everything the app
//     reads and write every writable directory it is given;
//   - else root, still without any capability (so root's own files, not
//     the whole system), and --verbose says which path decided it.
//
// Without root, the app runs as the caller (inside a user namespace, as
// its root, which is the caller outside it).

// nobody is the unprivileged user apps of root-owned directories run as.
const nobody = 65534

// appUser picks the user for app a (see above). why explains the choice
// for --verbose.
func appUser(a *app, configured string) (u specs.User, why string, err error) {
	if configured != "" {
		if u, err = parseUser(configured); err != nil {
			return specs.User{}, "", fmt.Errorf("user: %v", err)
		}
		return u, "the user key", nil
	}
	if os.Geteuid() != 0 {
		// The container's root: you, outside its user namespace.
		return specs.User{}, "you (without root, the app's root is you)", nil
	}
	if st, err := os.Stat(a.appDir); err == nil {
		if uid, gid, ok := fileOwner(st); ok && uid != 0 {
			return specs.User{UID: uid, GID: gid}, "the owner of " + a.appDir, nil
		}
	}
	cand := specs.User{UID: nobody, GID: nobody}
	if p := a.inaccessible(cand); p != "" {
		return specs.User{}, fmt.Sprintf("root without capabilities: nobody cannot use %s (set user in %s, or make it readable)", p, ConfigName), nil
	}
	return cand, "nobody: the app directory is root's", nil
}

// inaccessible returns the first path app a needs that u cannot read (or
// write, for a writable directory), or "".
func (a *app) inaccessible(u specs.User) string {
	need := []struct {
		path string
		mode uint32
	}{{a.root, 5}, {filepath.Join(a.root, a.module), 4}}
	for _, m := range a.mounts {
		mode := uint32(5)
		for _, o := range m.Options {
			if o == "rw" {
				mode = 7
			}
		}
		need = append(need, struct {
			path string
			mode uint32
		}{m.Source, mode})
	}
	for _, n := range need {
		if !canAccess(n.path, u, n.mode) {
			return n.path
		}
	}
	return ""
}

// canAccess reports whether u may search every directory above path and
// has the access bits want (4 read, 2 write, 1 search) on path, by the
// permission bits alone (u has no capability to override them).
func canAccess(path string, u specs.User, want uint32) bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
		if !modeAllows(dir, u, 1) {
			return false
		}
		if dir == "/" {
			break
		}
	}
	return modeAllows(abs, u, want)
}
