package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/oci"
)

// An app's bundle, <state root>/bundles/<name> (its config.json and the
// link to its private /tmp), belongs to the `wasmrun os` that runs the
// app, which holds an exclusive flock on the directory for as long as it
// lives. The kernel drops the lock when that process dies, also of kill
// -9, so a bundle that nobody holds is a dead run's, whatever instant it
// died at: the next run of the name takes it over (claimBundle), and any
// run's start-up removes the others (sweepBundles). The lock also keeps
// two runs of one name apart: the one that does not get it is refused,
// and never removes the other's bundle.

// bundleWait bounds how long a run waits for a bundle that another
// process holds: a start-up removing a dead run's bundle holds it for
// milliseconds, a live run of the same name for as long as it runs.
const bundleWait = time.Second

// errBundleBusy is a bundle that another process holds.
var errBundleBusy = errors.New("bundle in use")

// claimBundle makes dir the bundle of this run of app name, emptied of
// whatever a run that died left in it; release removes it, and with it
// the app's /tmp.
func claimBundle(dir, name string) (release func(), err error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return nil, fmt.Errorf("create bundle: %w", err)
	}
	deadline := time.Now().Add(bundleWait)
	for {
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("create bundle: %w", err)
		}
		fd, err := lockBundle(dir)
		switch {
		case err == nil:
			clearBundle(dir)
			return func() {
				clearBundle(dir)
				os.Remove(dir)
				unix.Close(fd)
			}, nil
		case errors.Is(err, errBundleBusy), errors.Is(err, fs.ErrNotExist):
			// Busy: held by a live run of the name, or by a start-up
			// removing it. Gone: removed between our mkdir and lock.
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("an app named %s is already running (see wasmrun ps)", name)
			}
			time.Sleep(10 * time.Millisecond)
		default:
			return nil, fmt.Errorf("create bundle: %w", err)
		}
	}
}

// lockBundle opens bundle dir and takes its lock without waiting: the
// locked descriptor, or errBundleBusy, or fs.ErrNotExist when dir is gone
// (also when it was removed between the open and the lock, the remover
// holding it then).
func lockBundle(dir string) (int, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EWOULDBLOCK) {
			return -1, errBundleBusy
		}
		return -1, &fs.PathError{Op: "lock", Path: dir, Err: err}
	}
	var held, now unix.Stat_t
	if unix.Fstat(fd, &held) != nil || unix.Lstat(dir, &now) != nil || held.Dev != now.Dev || held.Ino != now.Ino {
		unix.Close(fd)
		return -1, fs.ErrNotExist
	}
	return fd, nil
}

// removeBundle removes the bundle dir of an app whose run is gone, and
// the app's /tmp; a bundle that a live run holds is left alone.
func removeBundle(dir string) {
	fd, err := lockBundle(dir)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	clearBundle(dir)
	os.Remove(dir)
}

// sweepBundles removes the bundles under dir of runs that died (before
// they made their container, or after they removed it, or whose container
// GC has just removed): those nobody holds, of no container. A bundle
// whose app has a container is left to whoever removes that.
func sweepBundles(dir string, rt *oci.Runtime) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if _, err := rt.State(e.Name()); errors.Is(err, oci.ErrNotFound) {
			removeBundle(filepath.Join(dir, e.Name()))
		}
	}
}

// clearBundle removes what is in bundle dir, and the app's /tmp it links
// to.
func clearBundle(dir string) {
	if tmp, err := os.Readlink(filepath.Join(dir, "tmp")); err == nil && strings.HasPrefix(filepath.Base(tmp), "wasmrun-tmp-") {
		removeAppTmp(tmp)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// removeAppTmp unmounts the tmpfs of an app's /tmp, if any, and removes
// the directory. Removing it twice is fine.
func removeAppTmp(tmp string) {
	unix.Unmount(tmp, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
	os.RemoveAll(tmp)
}

func writeBundle(dir string, s *specs.Spec) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
		return fmt.Errorf("create bundle: %w", err)
	}
	return nil
}

// tmpInodes bounds the files of an app's /tmp of size bytes: one per 8 KiB
// (at least 1024). tmpfs's own default is one per page of half the host's
// memory, which lets empty files pin kernel memory far beyond size (an
// inode and its name are about 1 KiB, not counted in size).
func tmpInodes(size int64) int64 { return max(1024, size/8192) }

// appTmp makes the app's private /tmp: a directory of the app's user that
// nobody else may enter, in the system's temporary directory (which every
// user can reach, unlike a state root of root's), named by a link in the
// bundle so that whoever removes the bundle removes it too. The link comes
// first: a run killed at any instant leaves no such directory that its
// bundle does not name. As root, a tmpfs of size bytes is mounted on it,
// so that what the guest writes there cannot fill the host's disk
// (clearBundle unmounts it); without root it is the plain directory, and
// limited says so.
func appTmp(bundle string, u specs.User, size int64) (tmp string, limited bool, err error) {
	link := filepath.Join(bundle, "tmp")
	dir, err := filepath.Abs(os.TempDir())
	if err != nil {
		return "", false, fmt.Errorf("create the app's /tmp: %w", err)
	}
	for {
		var b [8]byte
		rand.Read(b[:])
		tmp := filepath.Join(dir, "wasmrun-tmp-"+hex.EncodeToString(b[:]))
		if err := os.Symlink(tmp, link); err != nil {
			return "", false, fmt.Errorf("create the app's /tmp: %w", err)
		}
		err := os.Mkdir(tmp, 0o700)
		if errors.Is(err, fs.ErrExist) {
			os.Remove(link) // taken: another name
			continue
		}
		if err != nil {
			return "", false, fmt.Errorf("create the app's /tmp: %w", err)
		}
		if os.Geteuid() != 0 {
			return tmp, false, nil
		}
		opts := fmt.Sprintf("size=%d,nr_inodes=%d,mode=0700,uid=%d,gid=%d", size, tmpInodes(size), u.UID, u.GID)
		if err := unix.Mount("tmpfs", tmp, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, opts); err != nil {
			return "", false, fmt.Errorf("the app's /tmp: mount a tmpfs on %s: %w", tmp, err)
		}
		return tmp, true, nil
	}
}
