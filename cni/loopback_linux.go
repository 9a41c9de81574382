package cni

import "fmt"

// LoopbackUp sets lo up in the calling thread's network namespace
// (SIOCSIFFLAGS, as `ip link set lo up`). A process that created its own
// network namespace (a rootless container process: CLONE_NEWUSER|
// CLONE_NEWNET, so it holds CAP_NET_ADMIN there) calls it for itself,
// since nobody outside can enter that namespace without privileges.
func LoopbackUp() error {
	if err := loUp(); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return nil
}
