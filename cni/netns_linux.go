package cni

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"

	"github.com/wasmrun/wasmrun/cni/procnet"
	"golang.org/x/sys/unix"
)

// sharedDirs remembers the netns dirs already made shared mounts.
var sharedDirs sync.Map

// makeShared makes dir a shared mount point, as `ip netns add` does, so a
// namespace bind mount made here also appears in mount namespaces that
// receive propagation from this one (and unmounts propagate back).
func makeShared(dir string) error {
	if _, ok := sharedDirs.Load(dir); ok {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	err := unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if errors.Is(err, unix.EINVAL) {
		// Not a mount point yet: bind it onto itself, then make it shared.
		if err = unix.Mount(dir, dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind mount %s onto itself: %w", dir, err)
		}
		err = unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	}
	if err != nil {
		return fmt.Errorf("make %s a shared mount: %w", dir, err)
	}
	sharedDirs.Store(dir, true)
	return nil
}

// createNetns creates a new network namespace, bind-mounts it at path and
// brings its loopback up. The work runs on a fresh goroutine locked to its
// thread: unshare(CLONE_NEWNET) moves the thread, the bind mount of
// /proc/self/task/<tid>/ns/net keeps the namespace alive, an ioctl on a socket made in the thread's namespace sets lo up, and setns
// moves the thread back. If that last step fails the thread stays locked
// and Go discards it with the goroutine.
func createNetns(path string, withLo bool) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("create namespace file %s: %w", path, err)
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- func() error {
			orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
			if err != nil {
				return fmt.Errorf("open current namespace: %w", err)
			}
			defer orig.Close()
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				return fmt.Errorf("unshare network namespace: %w", err)
			}
			err = func() error {
				self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
				if err := unix.Mount(self, path, "none", unix.MS_BIND, ""); err != nil {
					return fmt.Errorf("bind mount namespace at %s: %w", path, err)
				}
				if !withLo {
					return nil
				}
				return procnet.LoopbackUp()
			}()
			if serr := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); serr != nil {
				// Leave the thread locked: it dies with this goroutine.
				if err == nil {
					err = fmt.Errorf("return to host namespace: %w", serr)
				}
				return err
			}
			runtime.UnlockOSThread()
			return err
		}()
	}()
	if err := <-errc; err != nil {
		deleteNetns(path)
		return err
	}
	return nil
}

// deleteNetns unmounts and removes a namespace file. A file that is not
// mounted or does not exist is fine (idempotent); removed tells whether
// this call removed the file.
func deleteNetns(path string) (removed bool, err error) {
	err = unix.Unmount(path, unix.MNT_DETACH)
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return false, fmt.Errorf("unmount namespace %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("remove namespace file %s: %w", path, err)
	}
	return true, nil
}

// netnsInUse reports whether any thread of any process is in the namespace
// at path (compares /proc/*/task/*/ns/net with it).
func netnsInUse(path string) bool {
	var want unix.Stat_t
	if unix.Stat(path, &want) != nil {
		return false
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return true // cannot tell: assume in use
	}
	for _, p := range procs {
		if p.Name()[0] < '0' || p.Name()[0] > '9' {
			continue
		}
		tasks, err := os.ReadDir("/proc/" + p.Name() + "/task")
		if err != nil {
			continue
		}
		for _, t := range tasks {
			var st unix.Stat_t
			if unix.Stat("/proc/"+p.Name()+"/task/"+t.Name()+"/ns/net", &st) == nil &&
				st.Dev == want.Dev && st.Ino == want.Ino {
				return true
			}
		}
	}
	return false
}
