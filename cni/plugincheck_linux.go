package cni

import "fmt"

// CheckPlugins reports whether the CNI plugins of the bridge network
// (bridge, host-local and, with portmap, the portmap plugin) are in the
// plugin path. The error names the missing plugin and where it was looked
// for. Callers use it to choose the userspace forwarder for forwards when
// the plugins are not installed.
func (m *Manager) CheckPlugins(portmap bool) error {
	list, err := m.netConfList(portmap, false)
	if err != nil {
		return fmt.Errorf("check CNI plugins: %w", err)
	}
	return findPlugins(list, m.PluginPath())
}
