package main

import (
	"os"
	"path/filepath"
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

// TestUserStateRoot: $XDG_RUNTIME_DIR/wasmrun when that is a directory,
// else /tmp/wasmrun-<uid>.
func TestUserStateRoot(t *testing.T) {
	xdg := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", xdg)
	if got, want := userStateRoot(), filepath.Join(xdg, "wasmrun"); got != want {
		t.Errorf("with XDG_RUNTIME_DIR: %s, want %s", got, want)
	}
	t.Setenv("XDG_RUNTIME_DIR", "")
	if got := userStateRoot(); !strings.HasPrefix(filepath.Base(got), "wasmrun-") {
		t.Errorf("without XDG_RUNTIME_DIR: %s, want wasmrun-<uid> in the temp dir", got)
	}
}
