package task

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	runtimeoptions "github.com/containerd/containerd/api/types/runtimeoptions/v1"
	"github.com/containerd/containerd/v2/pkg/protobuf/proto"
	"github.com/containerd/errdefs"
	"github.com/containerd/log"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/BurntSushi/toml"

	"github.com/wasmrun/wasmrun/internal/runner"
	"github.com/wasmrun/wasmrun/oci"
)

// Config is the shim's configuration, given per task through the runtime
// options (ctr --runtime-config-path, a CRI runtime's ConfigPath, or
// ConfigBody) as TOML:
//
//	log_level = "debug"              # the shim's log level
//	cache_dir = "/var/cache/wasmrun" # compiled-module cache ("" = default, "none" = off)
//	runc_path = "/usr/sbin/runc"     # runs native (non-wasm) containers ("" = runc on PATH)
//	[network]                        # namespaces the shim creates (specs without a path)
//	outbound = true                  # connections out and the host's resolver (default true)
//	bridge = true                    # attach the CNI bridge network (outbound NAT)
//	plugin_dirs = ["/opt/cni/bin"]   # searched first for CNI plugins
//	prefix = "wasmrun"               # namespaces are <prefix>-<id>
//	netns_dir = "/run/netns"
//	state_dir = "/run/wasmrun/netns"
//	subnet = "10.231.0.0/16"         # the bridge's host-local range
//	bridge_name = "wasmrun0"         # the host bridge device
//	network_name = "wasmrun"         # the CNI network name (IPAM leases)
type Config struct {
	LogLevel string        `toml:"log_level" json:"log_level,omitempty"`
	CacheDir string        `toml:"cache_dir" json:"cache_dir,omitempty"`
	RuncPath string        `toml:"runc_path" json:"runc_path,omitempty"`
	Network  NetworkConfig `toml:"network" json:"network"`
}

// NetworkConfig shapes the namespaces the shim creates.
type NetworkConfig struct {
	Outbound   *bool    `toml:"outbound" json:"outbound,omitempty"`
	Bridge     bool     `toml:"bridge" json:"bridge,omitempty"`
	PluginDirs []string `toml:"plugin_dirs" json:"plugin_dirs,omitempty"`
	Prefix     string   `toml:"prefix" json:"prefix,omitempty"`
	NetnsDir   string   `toml:"netns_dir" json:"netns_dir,omitempty"`
	StateDir   string   `toml:"state_dir" json:"state_dir,omitempty"`
	Subnet     string   `toml:"subnet" json:"subnet,omitempty"`
	BridgeName string   `toml:"bridge_name" json:"bridge_name,omitempty"`
	Name       string   `toml:"network_name" json:"network_name,omitempty"`
}

// value is the runtime's network configuration for n.
func (n NetworkConfig) value(logf func(format string, args ...any)) oci.NetworkConfig {
	return oci.NetworkConfig{
		Prefix: n.Prefix, NetnsDir: n.NetnsDir, StateDir: n.StateDir, PluginDirs: n.PluginDirs,
		Bridge: oci.BridgeConfig{Subnet: n.Subnet, Name: n.BridgeName, Network: n.Name}, Log: logf,
	}
}

// configFile keeps a task's config in its bundle, for the delete action
// (which must find the namespace where this config put it).
const configFile = "wasmrun-config.json"

func saveConfig(bundle string, cfg Config) error {
	b, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(bundle, configFile), b, 0o600); err != nil {
		return fmt.Errorf("save shim config: %w", err)
	}
	return nil
}

func readSavedConfig(bundle string) Config {
	var cfg Config
	if b, err := os.ReadFile(filepath.Join(bundle, configFile)); err == nil {
		json.Unmarshal(b, &cfg)
	}
	return cfg
}

// DefaultCacheDir is the compiled-module cache when neither the config
// nor $WASMRUN_CACHE_DIR names one. Entries are keyed by the module's
// content, so every task of an image shares them.
const DefaultCacheDir = runner.ShimCacheDir

// loadConfig reads the config from the create request's options (nil or
// another options type: defaults).
func loadConfig(opts *anypb.Any) (Config, error) {
	var cfg Config
	if opts != nil && strings.HasSuffix(opts.GetTypeUrl(), "runtimeoptions.v1.Options") {
		var o runtimeoptions.Options
		if err := proto.Unmarshal(opts.GetValue(), &o); err != nil {
			return cfg, fmt.Errorf("decode runtime options: %w: %w", err, errdefs.ErrInvalidArgument)
		}
		body := o.GetConfigBody()
		if len(body) == 0 && o.GetConfigPath() != "" {
			b, err := os.ReadFile(o.GetConfigPath())
			if err != nil {
				return cfg, fmt.Errorf("read shim config: %w: %w", err, errdefs.ErrInvalidArgument)
			}
			body = b
		}
		if _, err := toml.Decode(string(body), &cfg); err != nil {
			return cfg, fmt.Errorf("parse shim config %s: %w: %w", o.GetConfigPath(), err, errdefs.ErrInvalidArgument)
		}
	}
	if cfg.LogLevel != "" {
		if err := log.SetLevel(cfg.LogLevel); err != nil {
			return cfg, fmt.Errorf("shim config: log_level %q: %w", cfg.LogLevel, errdefs.ErrInvalidArgument)
		}
	}
	switch cfg.CacheDir {
	case "none":
		cfg.CacheDir = ""
	case "":
		cfg.CacheDir = os.Getenv("WASMRUN_CACHE_DIR")
		if cfg.CacheDir == "" {
			cfg.CacheDir = DefaultCacheDir
		}
	}
	return cfg, nil
}
