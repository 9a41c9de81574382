package task

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/containerd/containerd/api/types"
	"github.com/containerd/containerd/v2/core/mount"
)

// mountRootfs mounts the image's rootfs mounts (overlay, bind) on
// <bundle>/rootfs. ctr run --rootfs sends none: the spec's root path is
// used as it is.
func mountRootfs(bundle string, mounts []*types.Mount) error {
	if len(mounts) == 0 {
		return nil
	}
	target := filepath.Join(bundle, "rootfs")
	if err := os.MkdirAll(target, 0o711); err != nil {
		return fmt.Errorf("create rootfs mount point: %w", err)
	}
	if err := mount.All(mount.FromProto(mounts), target); err != nil {
		return fmt.Errorf("mount rootfs: %w", err)
	}
	return nil
}

// unmountRootfs undoes mountRootfs; nothing mounted is not an error.
func unmountRootfs(bundle string) error {
	if err := mount.UnmountRecursive(filepath.Join(bundle, "rootfs"), 0); err != nil {
		return fmt.Errorf("unmount rootfs: %w", err)
	}
	return nil
}
