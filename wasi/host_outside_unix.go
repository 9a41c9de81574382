//go:build linux || darwin

package wasi

import "github.com/wasmrun/wasmrun/wasi/internal/sys"

// setOutside makes the guest's sockets reach the outside of its network
// namespace through o (Config.Outside).
func (h *Host) setOutside(o *Outside) error {
	h.sys.Outside = &sys.Outside{Socket: o.Socket, Inside: o.Inside, Blocked: o.Blocked}
	h.resolver.Dial = h.sys.Outside.Dialer(o.HostResolver)
	return nil
}
