package cni

import (
	"os"
	"path/filepath"
)

// etcDir is /etc; tests point it elsewhere.
var etcDir = "/etc"

// ResolvConf returns the resolv.conf and hosts files a guest in namespace
// name should see, following `ip netns exec`: /etc/netns/<name>/resolv.conf
// and /etc/netns/<name>/hosts override when present, otherwise the host's
// /etc/resolv.conf and /etc/hosts. name "" (host network, or a joined
// namespace without a name) gives the host's files.
func ResolvConf(name string) (resolvConf, hosts string) {
	resolvConf = filepath.Join(etcDir, "resolv.conf")
	hosts = filepath.Join(etcDir, "hosts")
	if name == "" || name == "." || name == ".." || filepath.Base(name) != name {
		return resolvConf, hosts
	}
	dir := filepath.Join(etcDir, "netns", name)
	if p := filepath.Join(dir, "resolv.conf"); exists(p) {
		resolvConf = p
	}
	if p := filepath.Join(dir, "hosts"); exists(p) {
		hosts = p
	}
	return resolvConf, hosts
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// netnsName returns the name of a namespace bind-mounted under /run/netns
// (ours, or one made with `ip netns add`), or "".
func netnsName(path string) string {
	if dir, name := filepath.Split(path); filepath.Clean(dir) == "/run/netns" {
		return name
	}
	return ""
}
