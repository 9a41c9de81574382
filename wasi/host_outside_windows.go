package wasi

import "errors"

// setOutside refuses Config.Outside: Windows has no network namespaces, so
// there is no outside to carry traffic to.
func (h *Host) setOutside(o *Outside) error {
	return errors.New("network namespaces (Config.Outside) do not exist on Windows")
}
