package cni

import (
	"os"
	"path/filepath"
	"testing"
)

func TestResolvConf(t *testing.T) {
	dir := t.TempDir()
	old := etcDir
	etcDir = dir
	t.Cleanup(func() { etcDir = old })
	if err := os.MkdirAll(filepath.Join(dir, "netns", "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "netns", "a", "resolv.conf"), []byte("nameserver 127.0.0.53\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "netns", "b"), 0o755)
	os.WriteFile(filepath.Join(dir, "netns", "b", "hosts"), []byte("127.0.0.1 x\n"), 0o644)
	hostR, hostH := filepath.Join(dir, "resolv.conf"), filepath.Join(dir, "hosts")
	for _, c := range []struct{ name, r, h string }{
		{"", hostR, hostH},
		{"a", filepath.Join(dir, "netns", "a", "resolv.conf"), hostH},
		{"b", hostR, filepath.Join(dir, "netns", "b", "hosts")},
		{"c", hostR, hostH},
		{"../netns/a", hostR, hostH},
		{"..", hostR, hostH},
	} {
		r, h := ResolvConf(c.name)
		if r != c.r || h != c.h {
			t.Errorf("ResolvConf(%q) = %s, %s; want %s, %s", c.name, r, h, c.r, c.h)
		}
	}
}

// TestOptionsResolver: a front end's resolver files replace the
// namespace's, each on its own.
func TestOptionsResolver(t *testing.T) {
	dir := t.TempDir()
	old := etcDir
	etcDir = dir
	t.Cleanup(func() { etcDir = old })
	os.MkdirAll(filepath.Join(dir, "netns", "a"), 0o755)
	os.WriteFile(filepath.Join(dir, "netns", "a", "resolv.conf"), nil, 0o644)
	nsR, hostH := filepath.Join(dir, "netns", "a", "resolv.conf"), filepath.Join(dir, "hosts")
	for _, c := range []struct {
		o    Options
		r, h string
	}{
		{Options{}, nsR, hostH},
		{Options{ResolvConf: "/mine/resolv.conf"}, "/mine/resolv.conf", hostH},
		{Options{Hosts: "/mine/hosts"}, nsR, "/mine/hosts"},
	} {
		if r, h := c.o.Resolver("/run/netns/a"); r != c.r || h != c.h {
			t.Errorf("%+v.Resolver = %s, %s; want %s, %s", c.o, r, h, c.r, c.h)
		}
	}
}
