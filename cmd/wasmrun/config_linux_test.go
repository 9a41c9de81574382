package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/wasmrun/wasmrun/wasi"
)

// TestConfigEgress: allow and deny in .wasmrun.toml take CIDRs, addresses
// and host names; a bad entry is an error naming the key and the entry.
func TestConfigEgress(t *testing.T) {
	dir := t.TempDir()
	load := func(network string) (*appConfig, error) {
		path := filepath.Join(dir, ConfigName)
		if err := os.WriteFile(path, []byte("[network]\n"+network+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return loadConfig(path, true)
	}
	cfg, err := load(`allow = ["10.0.0.0/8", "192.0.2.1", "API.example.com.:443", "*.internal"]` + "\n" +
		`deny = ["0.0.0.0/0", "::/0", "secret.internal"]`)
	if err != nil {
		t.Fatal(err)
	}
	e, err := egressPolicy(&cfg.Network, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := wasi.Egress{
		Allow:      []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32")},
		Deny:       []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")},
		AllowNames: []wasi.EgressName{{Name: "api.example.com", Port: 443}, {Name: "*.internal"}},
		DenyNames:  []wasi.EgressName{{Name: "secret.internal"}},
	}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("policy = %+v, want %+v", e, want)
	}

	for network, wantErr := range map[string]string{
		`allow = [""]`:                                    `network.allow: empty egress entry`,
		`allow = ["*"]`:                                   `network.allow: egress entry "*": a wildcard needs a suffix`,
		`allow = ["a.*.example.com"]`:                     `network.allow: egress entry "a.*.example.com": a wildcard may only be the whole first label`,
		`allow = ["api.example.com:0"]`:                   `network.allow: egress entry "api.example.com:0": bad port "0"`,
		`allow = ["api.example.com:x"]`:                   `network.allow: egress entry "api.example.com:x": bad port "x"`,
		`allow = ["bad_label-.com"]`:                      `network.allow: egress entry "bad_label-.com": label "bad_label-" starts or ends with '-'`,
		`allow = ["a b.com"]`:                             `network.allow: egress entry "a b.com": label "a b": want letters, digits`,
		`allow = ["10.0.0.0/33"]`:                         `network.allow: egress entry "10.0.0.0/33": not a CIDR`,
		`allow = ["10.1.2.3:80"]`:                         `network.allow: egress entry "10.1.2.3:80": only a host name takes a port`,
		`allow = ["[::1]:80"]`:                            `network.allow: egress entry "[::1]:80": only a host name takes a port`,
		`allow = ["fe80::1%eth0"]`:                        `network.allow: egress entry "fe80::1%eth0": an address takes no zone`,
		`deny = ["api.example.com:443"]`:                  `network.deny: egress entry "api.example.com:443": a deny name takes no port`,
		`deny = ["` + strings.Repeat("a.", 127) + `com"]`: `name longer than 253 bytes`,
	} {
		_, err := load(network)
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s: error %v, want one containing %q", network, err, wantErr)
		}
	}
}

// TestEgressPolicyFlags: --allow and --deny add to the config's entries,
// and a bad one is an error naming the flag.
func TestEgressPolicyFlags(t *testing.T) {
	n := &networkConfig{Allow: []string{"api.test:443"}, Deny: []string{"0.0.0.0/0"}}
	e, err := egressPolicy(n, []string{"127.0.0.2", "*.svc.test"}, []string{"evil.test"})
	if err != nil {
		t.Fatal(err)
	}
	want := wasi.Egress{
		Allow:      []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")},
		Deny:       []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")},
		AllowNames: []wasi.EgressName{{Name: "api.test", Port: 443}, {Name: "*.svc.test"}},
		DenyNames:  []wasi.EgressName{{Name: "evil.test"}},
	}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("policy = %+v, want %+v", e, want)
	}
	if _, err := egressPolicy(n, []string{"*"}, nil); err == nil || !strings.HasPrefix(err.Error(), "--allow: ") {
		t.Errorf("--allow *: error %v, want one naming --allow", err)
	}
	if _, err := egressPolicy(n, nil, []string{"evil.test:80"}); err == nil || !strings.HasPrefix(err.Error(), "--deny: ") {
		t.Errorf("--deny evil.test:80: error %v, want one naming --deny", err)
	}
}

// TestConfigIsolation: isolation takes true, false and "simulated"; any
// other value is one error that says what it takes.
func TestConfigIsolation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ConfigName)
	for value, want := range map[string]isolation{
		"true": isolationNamespace, "false": isolationHost, `"simulated"`: isolationSimulated,
	} {
		if err := os.WriteFile(path, []byte("[network]\nisolation = "+value+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadConfig(path, true)
		if err != nil {
			t.Errorf("isolation = %s: %v", value, err)
			continue
		}
		if got := cfg.Network.Isolation; got == nil || *got != want {
			t.Errorf("isolation = %s: got %v, want %q", value, got, want)
		}
	}
	for _, value := range []string{`"Simulated"`, `"true"`, `""`, `1`, `["simulated"]`} {
		if err := os.WriteFile(path, []byte("[network]\nisolation = "+value+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := loadConfig(path, true)
		if err == nil || !strings.Contains(err.Error(), `: want true, false or "simulated"`) {
			t.Errorf("isolation = %s: error %v, want one saying what it takes", value, err)
		}
	}
}

// TestSimulatedInstances: with simulated isolation, instances = "auto" is
// one instance, and a count above one is refused.
func TestSimulatedInstances(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	for instances, wantErr := range map[string]string{`"auto"`: "", `2`: "--instances needs a network namespace"} {
		cfg := "instances = " + instances + "\n[network]\nisolation = \"simulated\"\n"
		if err := os.WriteFile(filepath.Join(dir, ConfigName), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		a, err := resolveApp(&osOpts{app: dir})
		switch {
		case wantErr == "" && (err != nil || a.instances != 1 || !a.simulated):
			t.Errorf("instances = %s: %v (app %+v), want one instance", instances, err, a)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Errorf("instances = %s: error %v, want %q", instances, err, wantErr)
		}
	}
}
