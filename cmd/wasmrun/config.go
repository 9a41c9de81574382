package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/wasmrun/wasmrun/internal/names"
	"github.com/wasmrun/wasmrun/internal/trust"
	"github.com/wasmrun/wasmrun/oci"
)

// ConfigName is the per-app configuration file `wasmrun os` reads from APP.
const ConfigName = ".wasmrun.toml"

// appConfig is .wasmrun.toml.
type appConfig struct {
	Module string `toml:"module"`
	// Language, Entry and RuntimeDir run a source app on a runtime
	// (see language.go).
	Language   string            `toml:"language"`
	Entry      string            `toml:"entry"`
	RuntimeDir string            `toml:"runtime_dir"`
	Args       []string          `toml:"args"`
	Env        map[string]string `toml:"env"`
	Dirs       []string          `toml:"dirs"`
	Name       string            `toml:"name"`
	// User is who the app runs as (see user.go); "" decides by itself.
	User    string        `toml:"user"`
	Limits  limits        `toml:"limits"`
	Network networkConfig `toml:"network"`
	// Instances is how many instances of the module run (instances.go).
	Instances instanceCount `toml:"instances"`
}

type networkConfig struct {
	Isolation       *isolation    `toml:"isolation"`
	NamespacePrefix string        `toml:"namespace_prefix"`
	LoopbackEnabled *bool         `toml:"loopback_enabled"`
	Forward         []string      `toml:"forward"`
	forwards        []oci.Forward // Forward, parsed by validate
	Bridge          bool          `toml:"bridge"`
	// Outbound (default true) lets the app connect out, through host
	// sockets, and resolve names with the host's resolver.
	Outbound *bool `toml:"outbound"`
	// BridgeName and Subnet pick the CNI bridge device and its host-local
	// range (defaults wasmrun0 and 10.231.0.0/16). Apps that run at the
	// same time with different state dirs need different ones.
	BridgeName string   `toml:"bridge_name"`
	Subnet     string   `toml:"subnet"`
	Allow      []string `toml:"allow"`
	Deny       []string `toml:"deny"`
	// CNIPath is where the CNI plugins are (DIR[:DIR...], as CNI_PATH;
	// absolute directories only root can change), below --cni-path and
	// CNI_PATH.
	CNIPath string `toml:"cni_path"`
}

// isolation is [network] isolation: true (a network namespace of the
// app's own, the default), false (the host's network) or "simulated" (no
// namespace: a port space of the app's own on the host's loopback).
type isolation string

const (
	isolationNamespace isolation = "namespace"
	isolationHost      isolation = "host"
	isolationSimulated isolation = "simulated"
)

// UnmarshalTOML takes true, false or "simulated", and nothing else.
func (i *isolation) UnmarshalTOML(v any) error {
	switch v {
	case true:
		*i = isolationNamespace
	case false:
		*i = isolationHost
	case string(isolationSimulated):
		*i = isolationSimulated
	default:
		if s, ok := v.(string); ok {
			v = strconv.Quote(s)
		}
		return fmt.Errorf("network.isolation = %v: want true, false or \"simulated\"", v)
	}
	return nil
}

// validBridge: a Linux interface name (at most 15 bytes).
func validBridge(s string) bool { return names.Valid(s, 15, "_.-", false) }

// validPrefix: lowercase letters, digits and '-', at most 16 bytes.
func validPrefix(s string) bool { return names.Valid(s, 16, "-", true) }

// loadConfig reads and validates a config file. A missing file is only an
// error when required (given with --config).
func loadConfig(path string, required bool) (*appConfig, error) {
	cfg := &appConfig{}
	b, err := readTrusted(path, required)
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

// readTrusted reads a config file that is the caller's or root's, that
// nobody else can write, in a directory that is the caller's or root's. A
// config chooses the app's user, its directories and its network: one of
// another user's would have root's wasmrun run their app as root, or
// anyone's bind their ~/.ssh into it, and root's config linked (or put)
// into another user's app directory would give their app what root gave
// its own. An app directory's config is not followed if it is a link
// (named gives --config: the caller's own choice). It must be a regular
// file (a FIFO would block).
func readTrusted(path string, named bool) ([]byte, error) {
	f, err := openConfig(path, !named)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	uid, _, ok := fileOwner(fi)
	if !ok {
		return io.ReadAll(f) // no owners here (Windows): ACLs decide
	}
	if uid != 0 && int(uid) != os.Geteuid() {
		return nil, fmt.Errorf("owned by uid %d: only your own config or root's is read (it chooses the app's user, directories and network); chown it, or run as its owner", uid)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("writable by others (mode %#o): chmod go-w it", fi.Mode().Perm())
	}
	if !named {
		// The app directory and the way to it: another user's directory,
		// or link, could make the app they lead to another than the one
		// whose config this is, between this read and the module's.
		if err := trust.Path(filepath.Dir(path)); err != nil {
			return nil, fmt.Errorf("its directory is not yours or root's alone (%v): a config there is read only by its owner (copy it, or name it with --config)", err)
		}
	}
	return io.ReadAll(io.LimitReader(f, maxConfig+1))
}

// maxConfig bounds a config file read whole.
const maxConfig = 1 << 20

func (c *appConfig) validate() error {
	n := &c.Network
	if n.NamespacePrefix != "" && !validPrefix(n.NamespacePrefix) {
		return fmt.Errorf("network.namespace_prefix %q: want lowercase letters, digits and '-', at most 16", n.NamespacePrefix)
	}
	if n.BridgeName != "" && !validBridge(n.BridgeName) {
		return fmt.Errorf("network.bridge_name %q: want letters, digits, '_', '.', '-', at most 15", n.BridgeName)
	}
	if n.Subnet != "" {
		if p, err := netip.ParsePrefix(n.Subnet); err != nil || p != p.Masked() {
			return fmt.Errorf("network.subnet %q: want a network in CIDR form, e.g. 10.231.0.0/16", n.Subnet)
		}
	}
	for _, f := range n.Forward {
		fw, err := parseForwardAs(fmt.Sprintf("network.forward %q", f), f)
		if err != nil {
			return err
		}
		n.forwards = append(n.forwards, fw)
	}
	if _, err := egressPolicy(n, nil, nil); err != nil {
		return err
	}
	if err := c.Limits.check(); err != nil {
		return fmt.Errorf("limits.%v", err)
	}
	if c.User != "" {
		if _, err := parseUser(c.User); err != nil {
			return fmt.Errorf("user: %v", err)
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

// egressPolicy is the app's egress policy: the allow and deny entries of
// the config, then those of --allow and --deny (CIDRs, addresses, host
// names; see wasi.ParseEgressEntry). An error names the key or flag.
func egressPolicy(n *networkConfig, allow, deny []string) (oci.Egress, error) {
	var e oci.Egress
	for _, l := range []struct {
		key  string
		vals []string
		add  func(string) error
	}{
		{"network.allow", n.Allow, e.AddAllow}, {"network.deny", n.Deny, e.AddDeny},
		{"--allow", allow, e.AddAllow}, {"--deny", deny, e.AddDeny},
	} {
		for _, v := range l.vals {
			if err := l.add(v); err != nil {
				return oci.Egress{}, fmt.Errorf("%s: %w", l.key, err)
			}
		}
	}
	return e, nil
}

func validName(s string) bool { return names.Valid(s, 63, "_.-", false) }

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// parseUser reads "UID[:GID]" or "NAME[:GROUP]" (names from the system's
// user and group databases; a user's GID defaults to its primary group).
func parseUser(s string) (specs.User, error) {
	name, group, hasGroup := strings.Cut(s, ":")
	var u specs.User
	if id, err := strconv.ParseUint(name, 10, 32); err == nil {
		u.UID, u.GID = uint32(id), uint32(id)
	} else {
		pw, err := user.Lookup(name)
		if err != nil {
			return u, fmt.Errorf("%q: %v", s, err)
		}
		uid, _ := strconv.ParseUint(pw.Uid, 10, 32)
		gid, _ := strconv.ParseUint(pw.Gid, 10, 32)
		u.UID, u.GID = uint32(uid), uint32(gid)
	}
	if hasGroup {
		if id, err := strconv.ParseUint(group, 10, 32); err == nil {
			u.GID = uint32(id)
		} else {
			gr, err := user.LookupGroup(group)
			if err != nil {
				return u, fmt.Errorf("%q: %v", s, err)
			}
			gid, _ := strconv.ParseUint(gr.Gid, 10, 32)
			u.GID = uint32(gid)
		}
	}
	return u, nil
}

// parseForwardAs parses one forward, given as what (`--forward 8080:3000`,
// `network.forward "8080:3000"`): errors start with it. The CLI has no use
// for host port 0 (the port picked would be known to nobody).
func parseForwardAs(what, v string) (oci.Forward, error) {
	f, err := oci.ParseForward(v)
	var fe *oci.ForwardError
	switch {
	case errors.As(err, &fe):
		return oci.Forward{}, fmt.Errorf("%s: %s", what, fe.Reason)
	case err != nil:
		return oci.Forward{}, fmt.Errorf("%s: %v", what, err)
	case f.HostPort == 0:
		return oci.Forward{}, fmt.Errorf("%s: host port 0 is not a port (1-65535)", what)
	}
	return f, nil
}
