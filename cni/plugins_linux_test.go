package cni

import (
	"errors"
	"strings"
	"testing"
)

// TestPluginNotFoundError: a missing plugin is one typed error naming it
// and every directory searched, which front ends extend with their way of
// setting the directories.
func TestPluginNotFoundError(t *testing.T) {
	err := findPlugins([]byte(`{"plugins":[{"type":"bridge"}]}`), []string{t.TempDir()})
	var pe *PluginNotFoundError
	if !errors.As(err, &pe) || pe.Plugin != "bridge" || len(pe.Path) != 1 {
		t.Fatalf("findPlugins = %#v, want a PluginNotFoundError for bridge", err)
	}
	if !strings.Contains(err.Error(), `CNI plugin "bridge" not found in `+pe.Path[0]) {
		t.Errorf("message %q", err)
	}
	if got := (&PluginNotFoundError{Plugin: "portmap"}).Error(); !strings.Contains(got, "no plugin directory") {
		t.Errorf("no directories: %q", got)
	}
}
