package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/wasmrun/wasmrun/internal/nest"
	"github.com/wasmrun/wasmrun/internal/trust"
	"github.com/wasmrun/wasmrun/wasi"
)

// TrustCache tells whether the cache in dir may be used, making dir (mode
// 0700) when it is missing. wazero runs the machine code of an entry it
// reads after checking no more than a checksum, which anyone can compute:
// whoever can write an entry runs code as the next user of the module,
// root included. So the cache is used only where nobody but the caller
// and root can write (package trust's rule: dir, every directory above
// it, and wazero's directories in it), as sshd reads authorized_keys.
func TrustCache(dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	if err := trust.Path(dir); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "wazero-") {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		if err := trust.Entry(filepath.Join(dir, e.Name()), fi); err != nil {
			return err
		}
	}
	return nil
}

// UntrustedWhy is the reason in an error of TrustCache that wraps
// trust.ErrNotTrusted, for CacheUntrusted ("" for other errors).
func UntrustedWhy(err error) string {
	var te *trust.Error
	if errors.As(err, &te) {
		return te.Error()
	}
	if errors.Is(err, trust.ErrNotTrusted) {
		msg, _ := strings.CutSuffix(err.Error(), ": "+trust.ErrNotTrusted.Error())
		return msg
	}
	return ""
}

// ShimCacheDir is the shim's compiled-module cache when neither its
// config nor $WASMRUN_CACHE_DIR names one.
const ShimCacheDir = "/var/cache/wasmrun"

// CheckCacheReachOpened is CheckCacheReach for one writable directory
// already opened, judged by what was opened (fdPath, /proc/self/fd/N), not
// by its path (path is for the message): a cache of caches is in it, or
// it is in one. Its way up is walked from the descriptor ("..").
func CheckCacheReachOpened(path, fdPath string, caches []string) error {
	for _, c := range caches {
		if nest.Holds([]string{fdPath}, c) >= 0 {
			return fmt.Errorf("directory %s holds the compiled-module cache %s (as opened now): a guest that wrote there would plant machine code that later starts of a module run", path, c)
		}
		ci, err := os.Stat(c)
		if err != nil {
			continue
		}
		d := fdPath
		prev, err := os.Stat(d)
		for i := 0; err == nil && i < 4096; i++ {
			if os.SameFile(prev, ci) {
				return fmt.Errorf("directory %s is the compiled-module cache %s or within it (as opened now)", path, c)
			}
			d += "/.."
			next, nerr := os.Stat(d)
			if nerr != nil || os.SameFile(next, prev) {
				break // the root
			}
			prev = next
		}
	}
	return nil
}

// KnownCaches are the compiled-module caches a later start may trust:
// cacheDir (this one's, "" for none), the default one (DefaultCacheDir),
// the caller's own wherever $HOME and $XDG_CACHE_HOME point (its
// passwd entry's home: sudo keeps another user's $HOME), and the shim's.
func KnownCaches(cacheDir string) []string {
	cs := []string{cacheDir, DefaultCacheDir()}
	if d, err := os.UserCacheDir(); err == nil {
		cs = append(cs, filepath.Join(d, "wasmrun"))
	}
	if runtime.GOOS != "windows" {
		if u, err := user.LookupId(strconv.Itoa(os.Geteuid())); err == nil && u.HomeDir != "" {
			cs = append(cs, filepath.Join(u.HomeDir, ".cache", "wasmrun"))
		}
	}
	if runtime.GOOS == "linux" {
		cs = append(cs, ShimCacheDir)
	}
	var out []string
	for _, c := range cs {
		if c != "" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// CheckCacheReach refuses writable preopens through which a guest could
// write a compiled-module cache (KnownCaches): one that holds a cache, or
// is one or within one. wazero runs an entry's machine code after a
// checksum anyone can compute, so a guest that wrote an entry would have
// its own code run, outside WebAssembly, by the next start of that module.
// A read-only mount of the cache within such a directory is no answer:
// the guest could rename a directory above the mount point and make the
// path anew.
func CheckCacheReach(preopens []wasi.Preopen, cacheDir string) error {
	var writable []string
	for _, p := range preopens {
		if !p.ReadOnly {
			writable = append(writable, p.HostPath)
		}
	}
	if len(writable) == 0 {
		return nil
	}
	for _, c := range KnownCaches(cacheDir) {
		for _, w := range writable {
			if nest.Holds([]string{c}, w) >= 0 {
				return fmt.Errorf("directory %s is the compiled-module cache %s or within it: a guest that wrote there would plant machine code that later starts of a module run (give it read-only, or keep the cache elsewhere: --cache-dir, %s)", w, c, CacheEnv)
			}
		}
		if i := nest.Holds(writable, c); i >= 0 {
			w := writable[i]
			return fmt.Errorf("directory %s holds the compiled-module cache %s: a guest that wrote there would plant machine code that later starts of a module run (give it read-only, as %s:ro, or keep the cache elsewhere: --cache-dir, %s)", w, c, w, CacheEnv)
		}
	}
	return nil
}
