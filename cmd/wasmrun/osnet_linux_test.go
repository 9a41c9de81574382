package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/wasmrun/wasmrun/oci"
)

// TestParseForwardAs: a refused forward is one line that starts with what
// the user wrote; host port 0 is refused up front.
func TestParseForwardAs(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0:3000", "--forward 0:3000: host port 0 is not a port (1-65535)"},
		{"127.0.0.1:0:3000", "--forward 127.0.0.1:0:3000: host port 0 is not a port (1-65535)"},
		{"70000:3000", "--forward 70000:3000: host port 70000 is not a port (1-65535)"},
		{"8080:0", "--forward 8080:0: guest port 0 is not a port (1-65535)"},
		{"8080", "--forward 8080: want [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]"},
		{"8080:80/sctp", `--forward 8080:80/sctp: protocol "sctp": want tcp or udp`},
	} {
		_, err := parseForwardAs("--forward "+tc.in, tc.in)
		if err == nil || err.Error() != tc.want {
			t.Errorf("parseForwardAs(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
	f, err := parseForwardAs("--forward 8080:3000", "8080:3000")
	if err != nil || f != (oci.Forward{HostPort: 8080, GuestPort: 3000}) {
		t.Errorf("8080:3000 = %+v, %v", f, err)
	}
}

// TestConfigForwardZero: the config's forwards are refused the same way,
// naming the key and the entry.
func TestConfigForwardZero(t *testing.T) {
	path := filepath.Join(t.TempDir(), ConfigName)
	if err := os.WriteFile(path, []byte("[network]\nforward = [\"8080:3000\", \"0:3000\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := loadConfig(path, true)
	if want := `network.forward "0:3000": host port 0 is not a port`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("loadConfig = %v, want %q", err, want)
	}
}

// TestParseOSNetFlags: os takes run's --listen, --resolv-conf and --hosts
// (made absolute: the container process has another working directory),
// and --cni-path.
func TestParseOSNetFlags(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, f := range []string{"resolv.conf", "hosts"} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o, err := parseOS([]string{"--listen", "3000", "app", "--listen=127.0.0.1:80", "--resolv-conf", "resolv.conf",
		"--hosts=hosts", "--cni-path", "/a:/b", "--cni-path", "/c"})
	if err != nil {
		t.Fatal(err)
	}
	want := osOpts{app: "app", listens: []string{"0.0.0.0:3000", "127.0.0.1:80"},
		resolvConf: filepath.Join(dir, "resolv.conf"), hosts: filepath.Join(dir, "hosts"), cniPath: []string{"/a:/b", "/c"}}
	if !reflect.DeepEqual(*o, want) {
		t.Errorf("parseOS\n got  %+v\n want %+v", *o, want)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "3000", "--listen", "127.0.0.1:3000", "app"}, "--listen 0.0.0.0:3000 and --listen 127.0.0.1:3000 both take port 3000"},
		{[]string{"--listen", "x", "app"}, `--listen "x": "x" is not a port number`},
		{[]string{"--resolv-conf", "nope", "app"}, "--resolv-conf nope: no such file or directory"},
		{[]string{"--hosts", dir, "app"}, "--hosts " + dir + ": is a directory"},
	} {
		if _, err := parseOS(tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseOS(%q) = %v, want %q", tc.args, err, tc.want)
		}
	}
	// run refuses the same overlap.
	if _, err := parseRun([]string{"--listen", "8080", "--listen", "8080", "m.wasm"}); err == nil || !strings.Contains(err.Error(), "both take port 8080") {
		t.Errorf("parseRun: %v", err)
	}
}

// TestResolveCNIPath: --cni-path, else CNI_PATH, else cni_path in the
// config; each directory must exist; they replace the default ones.
func TestResolveCNIPath(t *testing.T) {
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	cfg := filepath.Join(c, ConfigName)
	t.Setenv(cniPathEnv, "")
	for _, tc := range []struct {
		name       string
		flags      []string
		env, key   string
		dirs       []string
		from, fail string
	}{
		{"none", nil, "", "", nil, "", ""},
		{"flag list", []string{a + ":" + b, c}, b, c, []string{a, b, c}, "--cni-path", ""},
		{"env", nil, a + "::" + b, c, []string{a, b}, "CNI_PATH", ""},
		{"key", nil, "", c, []string{c}, "network.cni_path", ""},
		{"flag missing dir", []string{filepath.Join(a, "nope")}, "", "", nil, "", "--cni-path " + filepath.Join(a, "nope") + ": no such file or directory"},
		{"env not a dir", nil, cfg, "", nil, "", "CNI_PATH " + cfg + ": not a directory"},
		{"key relative", nil, "", "plugins", nil, "", "network.cni_path plugins: want an absolute directory"},
		{"flag empty", []string{":"}, "", "", nil, "", "--cni-path: no directory given"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(cfg, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Setenv(cniPathEnv, tc.env)
			p, err := resolveCNIPath(tc.flags, tc.key, cfg)
			if tc.fail != "" {
				if err == nil || !strings.Contains(err.Error(), tc.fail) {
					t.Fatalf("err %v, want %q", err, tc.fail)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(p.dirs, tc.dirs) || p.from != tc.from {
				t.Fatalf("got %+v, %v; want %v from %q", p, err, tc.dirs, tc.from)
			}
			var n oci.NetworkConfig
			p.apply(&n)
			if tc.dirs == nil && (n.PluginDirs != nil || n.FallbackPluginDirs != nil) {
				t.Errorf("no path given changed the defaults: %+v", n)
			}
			if tc.dirs != nil && (!reflect.DeepEqual(n.PluginDirs, tc.dirs) || n.FallbackPluginDirs == nil || len(n.FallbackPluginDirs) != 0) {
				t.Errorf("apply: %+v, want only %v", n, tc.dirs)
			}
		})
	}
}

// TestCNIPathFromConfigTrusted: the plugins of a config's cni_path run as
// root, so a config (which comes with the app) may only name directories
// that nobody but root can change: not one that others may write, not one
// with a plugin another user owns, not one under such a directory, not
// through a symlink to one.
func TestCNIPathFromConfigTrusted(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the test makes files owned by another user")
	}
	t.Setenv(cniPathEnv, "")
	root := t.TempDir()
	cfg := filepath.Join(root, ConfigName)
	mk := func(name string, mode os.FileMode) string {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := mk("good", 0o755)
	if err := os.WriteFile(filepath.Join(good, "bridge"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := resolveCNIPath(nil, good, cfg); err != nil || len(p.dirs) != 1 {
		t.Fatalf("a root-owned 0755 directory: %+v, %v", p, err)
	}
	open := mk("open", 0o777)
	under := mk("open/sub", 0o755)
	theirs := mk("theirs", 0o755)
	if err := os.Chown(theirs, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	plugin := mk("plugin", 0o755)
	if err := os.WriteFile(filepath.Join(plugin, "portmap"), []byte("#!/bin/sh\ntouch /tmp/pwned\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(plugin, "portmap"), 65534, 65534); err != nil {
		t.Fatal(err)
	}
	writable := mk("writable", 0o755)
	if err := os.WriteFile(filepath.Join(writable, "host-local"), []byte("#!/bin/sh\n"), 0o757); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(writable, "host-local"), 0o757); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "link")
	if err := os.Symlink(under, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ dir, want string }{
		{open, open + " is writable by others"},
		{under, open + " is writable by others"},
		{link, open + " is writable by others"},
		{theirs, theirs + " is owned by uid 65534"},
		{plugin, filepath.Join(plugin, "portmap") + " is owned by uid 65534"},
		{writable, filepath.Join(writable, "host-local") + " is writable by others"},
	} {
		_, err := resolveCNIPath(nil, tc.dir, cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "network.cni_path") {
			t.Errorf("cni_path %s: %v, want an error with %q", tc.dir, err, tc.want)
		}
		// The same directory given by the caller is the caller's choice.
		if _, err := resolveCNIPath([]string{tc.dir}, "", cfg); err != nil {
			t.Errorf("--cni-path %s: %v", tc.dir, err)
		}
	}
}

// TestExplainCreate: the errors of creating an app's network name the
// forward as the user gave it, the app that holds a port, and how to name
// the CNI plugin directories; never the namespace's name.
func TestExplainCreate(t *testing.T) {
	fw := oci.Forward{HostPort: 8080, GuestPort: 3000}
	a := &app{name: "web", prefix: "wasmrun", hosts: "/etc/h", forwardNames: map[oci.Forward]string{fw: "--forward 8080:3000"}}
	wrap := func(err error) error { return fmt.Errorf("create namespace wasmrun-web: %w", err) }
	for _, tc := range []struct {
		err  error
		cni  cniPath
		want string
	}{
		{wrap(&oci.PortInUseError{Forward: fw}), cniPath{},
			"--forward 8080:3000: port 8080/tcp on the host is already in use by another process"},
		{wrap(&oci.PortInUseError{Forward: fw, By: "wasmrun-api"}), cniPath{},
			"--forward 8080:3000: port 8080/tcp on the host is already in use by app api (see wasmrun ps)"},
		{wrap(&oci.PortInUseError{Forward: oci.Forward{HostPort: 53, GuestPort: 53, Protocol: "udp"}}), cniPath{},
			"--forward 53:53/udp: port 53/udp on the host is already in use by another process"},
		{wrap(&oci.PluginNotFoundError{Plugin: "bridge", Path: []string{"/opt/cni/bin", "/usr/lib/cni"}}), cniPath{},
			`needs CNI plugin "bridge", not found in /opt/cni/bin, /usr/lib/cni: install containernetworking-plugins, or name their directory with --cni-path DIR, CNI_PATH=DIR or cni_path in [network] of .wasmrun.toml`},
		{wrap(&oci.PluginNotFoundError{Plugin: "bridge", Path: []string{"/x"}}), cniPath{dirs: []string{"/x"}, from: "CNI_PATH"},
			`not found in /x (CNI_PATH)`},
		{wrap(errors.New("claim bridge: boom")), cniPath{}, "set up the network of app web: claim bridge: boom"},
		{errors.New("resolver file /etc/h is not readable by the container's user (uid 7): permission denied"), cniPath{},
			"--hosts /etc/h: is not readable by the container's user (uid 7): permission denied"},
	} {
		a.cni = tc.cni
		got := explainCreate(a, tc.err)
		if !strings.Contains(got.Error(), tc.want) || strings.Contains(got.Error(), "wasmrun-web") || strings.Contains(got.Error(), "\n") {
			t.Errorf("explainCreate(%v)\n = %q\nwant one line with %q", tc.err, got, tc.want)
		}
	}
	// What is not ours to explain stays as it was, class and all.
	err := fmt.Errorf("start: %w", oci.ErrUserNamespaces)
	if got := explainCreate(a, err); got != err {
		t.Errorf("explainCreate changed %v into %v", err, got)
	}
}
