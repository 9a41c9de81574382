//go:build linux || darwin || windows

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/wasmrun/wasmrun/internal/trust"

	"github.com/wasmrun/wasmrun/oci"
)

// The network choices of `wasmrun os` that come from the user: forwards,
// the CNI plugin directories, and the errors of creating the network told
// in the user's own terms (the flag or key they wrote, never the name of a
// namespace they did not choose).

// cniPathEnv is the CNI convention's variable for the plugin directories
// (colon-separated), as cnitool and the plugins' own tests read it.
const cniPathEnv = "CNI_PATH"

// cniPath is where the CNI plugins are, and who said so.
type cniPath struct {
	dirs []string // nil: cni's defaults (/opt/cni/bin, /usr/lib/cni)
	from string   // "--cni-path", "CNI_PATH", "network.cni_path", or ""
}

// resolveCNIPath picks the plugin directories: --cni-path (flags, each
// DIR[:DIR...]), else $CNI_PATH, else cni_path in [network] of the config
// (cfgPath). Directories given by the config, which comes with the app,
// must be root's (or the caller's) alone all the way up, with the plugins
// in them: wasmrun runs those programs as root.
func resolveCNIPath(flags []string, key, cfgPath string) (cniPath, error) {
	var p cniPath
	var list []string
	switch {
	case len(flags) > 0:
		p.from, list = "--cni-path", flags
	case os.Getenv(cniPathEnv) != "":
		p.from, list = cniPathEnv, []string{os.Getenv(cniPathEnv)}
	case key != "":
		p.from, list = "network.cni_path", []string{key}
	default:
		return p, nil
	}
	for _, l := range list {
		for _, d := range filepath.SplitList(l) {
			if d == "" {
				continue
			}
			if p.from == "network.cni_path" && !filepath.IsAbs(d) {
				return cniPath{}, fmt.Errorf("config %s: network.cni_path %s: want an absolute directory", cfgPath, d)
			}
			abs, err := filepath.Abs(d)
			if err != nil {
				return cniPath{}, err
			}
			st, err := os.Stat(abs)
			if err == nil && !st.IsDir() {
				err = errors.New("not a directory")
			}
			if err == nil && p.from == "network.cni_path" {
				err = trustedPluginDir(abs)
			}
			if err != nil {
				what := p.from + " " + d
				if p.from == "network.cni_path" {
					what = fmt.Sprintf("config %s: network.cni_path %s", cfgPath, d)
				}
				return cniPath{}, fmt.Errorf("%s: %v", what, unwrapPath(err))
			}
			p.dirs = append(p.dirs, abs)
		}
	}
	if len(p.dirs) == 0 {
		return cniPath{}, fmt.Errorf("%s: no directory given", p.from)
	}
	return p, nil
}

// apply puts the directories into the network configuration: they replace
// the default ones, as CNI_PATH does for every CNI tool.
func (p cniPath) apply(n *oci.NetworkConfig) {
	if p.dirs != nil {
		n.PluginDirs, n.FallbackPluginDirs = p.dirs, []string{}
	}
}

// cniPlugins are the plugins wasmrun runs (its bridge network).
var cniPlugins = []string{"bridge", "host-local", "portmap"}

// trustedPluginDir checks that nobody but root and the caller can change
// what runs from dir: dir and each of the plugins in it, with every
// directory above them, are owned by one of them and writable by no one
// else.
func trustedPluginDir(dir string) error {
	if err := trustedPath(dir); err != nil {
		return err
	}
	for _, name := range cniPlugins {
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := trustedPath(p); err != nil {
			return err
		}
	}
	return nil
}

// trustedPath checks p with the rule of package trust: anyone else who
// could change a plugin would have root run it.
func trustedPath(p string) error {
	err := trust.Path(p)
	if errors.Is(err, trust.ErrNotTrusted) {
		return fmt.Errorf("%w: its plugins would run as root", err)
	}
	return err
}

// explainCreate tells an error of creating app a's container in the user's
// terms: the forward as they gave it, the way to name the CNI plugin
// directories, no namespace name they never saw.
func explainCreate(a *app, err error) error {
	var inUse *oci.PortInUseError
	var noPlugin *oci.PluginNotFoundError
	switch {
	case errors.As(err, &inUse):
		f := inUse.Forward
		what := a.forwardNames[f]
		if what == "" {
			what = "--forward " + f.String()
		}
		by := "by another process"
		if app, ok := strings.CutPrefix(inUse.By, a.prefix+"-"); ok {
			by = "by app " + app + " (see wasmrun ps)"
		} else if inUse.By != "" {
			by = "by namespace " + inUse.By
		}
		return fmt.Errorf("%s: port %d/%s on the host is already in use %s", what, f.HostPort, f.Proto(), by)
	case errors.As(err, &noPlugin):
		where := strings.Join(noPlugin.Path, ", ")
		if a.cni.from != "" {
			where += " (" + a.cni.from + ")"
		}
		return fmt.Errorf("the bridge network (bridge = true in [network]) needs CNI plugin %q, not found in %s: install containernetworking-plugins, or name their directory with --cni-path DIR, %s=DIR or cni_path in [network] of %s",
			noPlugin.Plugin, where, cniPathEnv, ConfigName)
	}
	// The container process checks that the app's user can read the
	// resolver files (it reads them at each lookup).
	for flag, path := range map[string]string{"--resolv-conf": a.resolvConf, "--hosts": a.hosts} {
		if rest, ok := strings.CutPrefix(err.Error(), "resolver file "+path+" "); ok && path != "" {
			return fmt.Errorf("%s %s: %s", flag, path, rest)
		}
	}
	// Other network errors: the namespace's name means nothing to the
	// user, who named the app (or had a name picked).
	inner := errors.Unwrap(err)
	if rest, ok := strings.CutPrefix(err.Error(), "create namespace "+a.prefix+"-"+a.name+": "); ok && inner != nil && inner.Error() == rest {
		return fmt.Errorf("set up the network of app %s: %w", a.name, inner)
	}
	return err
}
