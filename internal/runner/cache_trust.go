package runner

import (
	"fmt"
	"slices"

	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/wasmrun/wasmrun/internal/nest"
	"github.com/wasmrun/wasmrun/wasi"

	"github.com/wasmrun/wasmrun/internal/trust"
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

// CachesWithin returns the compiled-module caches that a guest could write
// through its writable directories: the one given (cacheDir, "" for none)
// and the default one that later starts use (DefaultCacheDir). wazero
// runs an entry's machine code after a checksum anyone can compute, so a
// guest that could write an entry would have its own code run, outside
// WebAssembly, by the next start of that module. A writable directory
// that is a cache or within one is an error; a cache within a writable
// directory is returned, for the caller to make read-only to the guest
// or to refuse.
func CachesWithin(writable []string, cacheDir string) ([]string, error) {
	if len(writable) == 0 {
		return nil, nil
	}
	var within []string
	for _, c := range []string{cacheDir, DefaultCacheDir()} {
		if c == "" || slices.Contains(within, c) {
			continue
		}
		for _, w := range writable {
			if nest.Holds([]string{c}, w) >= 0 {
				return nil, fmt.Errorf("directory %s is the compiled-module cache %s or within it: a guest that wrote there would plant machine code that later starts of a module run (give it read-only, or keep the cache elsewhere: --cache-dir, %s)", w, c, CacheEnv)
			}
		}
		if nest.Holds(writable, c) >= 0 {
			within = append(within, c)
		}
	}
	return within, nil
}

// CheckCacheReach refuses writable preopens through which a guest running
// in this process (no mount namespace to make a cache read-only in) could
// write a compiled-module cache (CachesWithin).
func CheckCacheReach(preopens []wasi.Preopen, cacheDir string) error {
	var writable []string
	for _, p := range preopens {
		if !p.ReadOnly {
			writable = append(writable, p.HostPath)
		}
	}
	within, err := CachesWithin(writable, cacheDir)
	if err != nil || len(within) == 0 {
		return err
	}
	w := writable[nest.Holds(writable, within[0])]
	return fmt.Errorf("directory %s holds the compiled-module cache %s: a guest that wrote there would plant machine code that later starts of a module run (give it read-only, as %s:ro, or keep the cache elsewhere: --cache-dir, %s)", w, within[0], w, CacheEnv)
}
