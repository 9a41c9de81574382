package main

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestCheckPrivateDir: the default state dir of a user without root (in a
// shared /tmp) is used only if it is that user's own directory that nobody
// else can write.
func TestCheckPrivateDir(t *testing.T) {
	dir := t.TempDir()
	uid := os.Geteuid()
	own := filepath.Join(dir, "own")
	if err := os.Mkdir(own, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := checkPrivateDir(own, uid); err != nil {
		t.Errorf("own private dir: %v", err)
	}
	if err := checkPrivateDir(own, uid+1); err == nil || !strings.Contains(err.Error(), "not a directory owned by uid") {
		t.Errorf("dir of another uid: %v, want a refusal", err)
	}
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := checkPrivateDir(open, uid); err == nil {
		t.Error("world-writable dir accepted")
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(own, link); err != nil {
		t.Fatal(err)
	}
	if err := checkPrivateDir(link, uid); err == nil {
		t.Error("symlink accepted")
	}
}

// TestUserStateRoot: $XDG_RUNTIME_DIR/wasmrun when that is a directory;
// without it, a place of the user's own ($XDG_STATE_HOME, the passwd
// home's ~/.local/state) rather than /tmp/wasmrun-<uid>, a name any user
// could take first and so deny the user every `wasmrun os` (a directory
// another user owns is refused as a state root); /tmp only when the user
// has none of them.
func TestUserStateRoot(t *testing.T) {
	xdg := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", xdg)
	if got, want := userStateRoot(), filepath.Join(xdg, "wasmrun"); got != want {
		t.Errorf("with XDG_RUNTIME_DIR: %s, want %s", got, want)
	}
	t.Setenv("XDG_RUNTIME_DIR", "")
	if fi, err := os.Stat(filepath.Join("/run/user", strconv.Itoa(os.Geteuid()))); err == nil && fi.IsDir() {
		t.Skip("this user has a logind runtime directory, which comes first")
	}
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	if got, want := userStateRoot(), filepath.Join(state, "wasmrun"); got != want {
		t.Errorf("with XDG_STATE_HOME: %s, want %s", got, want)
	}
	t.Setenv("XDG_STATE_HOME", "")
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if got := userStateRoot(); got != filepath.Join(u.HomeDir, ".local", "state", "wasmrun") && !strings.HasPrefix(filepath.Base(got), "wasmrun-") {
		t.Errorf("without either: %s, want the home's ~/.local/state/wasmrun, or wasmrun-<uid> in the temp dir without a home", got)
	}
	if got := userStateRoot(); strings.HasPrefix(got, os.TempDir()) {
		if fi, err := os.Stat(u.HomeDir); err == nil && fi.IsDir() {
			t.Errorf("without either: %s in the temp dir, though the user has a home, %s", got, u.HomeDir)
		}
	}
}
