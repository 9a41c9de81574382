package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/wasmrun/wasmrun/oci"
)

// ConfigName is the per-app configuration file `wasmrun os` reads from APP.
const ConfigName = ".wasmrun.toml"

// appConfig is .wasmrun.toml.
type appConfig struct {
	Module  string            `toml:"module"`
	Args    []string          `toml:"args"`
	Env     map[string]string `toml:"env"`
	Dirs    []string          `toml:"dirs"`
	Name    string            `toml:"name"`
	Network networkConfig     `toml:"network"`
}

type networkConfig struct {
	Isolation       *bool    `toml:"isolation"`
	NamespacePrefix string   `toml:"namespace_prefix"`
	LoopbackEnabled *bool    `toml:"loopback_enabled"`
	Forward         []string `toml:"forward"`
	Bridge          bool     `toml:"bridge"`
	Allow           []string `toml:"allow"`
	Deny            []string `toml:"deny"`
}

var prefixRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,15}$`)

// loadConfig reads and validates a config file. A missing file is only an
// error when required (given with --config).
func loadConfig(path string, required bool) (*appConfig, error) {
	cfg := &appConfig{}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !required {
		return cfg, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config %s: %v", path, unwrapPath(err))
	}
	md, err := toml.Decode(string(b), cfg)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("config %s: line %d: %s", path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("config %s: %v", path, err)
	}
	if un := md.Undecoded(); len(un) > 0 {
		keys := make([]string, len(un))
		for i, k := range un {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("config %s: unknown key %s", path, strings.Join(keys, ", "))
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("config %s: %v", path, err)
	}
	return cfg, nil
}

func (c *appConfig) validate() error {
	n := &c.Network
	if n.NamespacePrefix != "" && !prefixRE.MatchString(n.NamespacePrefix) {
		return fmt.Errorf("network.namespace_prefix %q: want lowercase letters, digits and '-', at most 16", n.NamespacePrefix)
	}
	for _, f := range n.Forward {
		if _, err := oci.ParseForward(f); err != nil {
			return fmt.Errorf("network.forward: %v", err)
		}
	}
	for _, list := range []struct {
		key  string
		vals []string
	}{{"network.allow", n.Allow}, {"network.deny", n.Deny}} {
		for _, v := range list.vals {
			if _, err := parseCIDR(v); err != nil {
				return fmt.Errorf("%s: %v", list.key, err)
			}
		}
	}
	if c.Name != "" && !validName(c.Name) {
		return fmt.Errorf("name %q: use letters, digits, '_', '.', '-'", c.Name)
	}
	if c.Module != "" && filepath.IsAbs(c.Module) {
		return fmt.Errorf("module %q: must be relative to the app directory", c.Module)
	}
	return nil
}

// parseCIDR accepts a CIDR or a single address.
func parseCIDR(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("%q is not a CIDR or an IP address", s)
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

func validName(s string) bool { return nameRE.MatchString(s) }

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
