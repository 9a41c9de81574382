package runner

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	bytesize "github.com/wasmrun/wasmrun/internal/size"
)

// CacheMaxEnv bounds the compiled-module cache: a size (256m, 2g, ...),
// DefaultCacheMax when unset. The shim's container processes inherit it
// from containerd's environment.
const CacheMaxEnv = "WASMRUN_CACHE_MAX"

// DefaultCacheMax is the cache's bound when CacheMaxEnv does not name one:
// without a bound, every distinct module a node ever ran (a new image
// version, or a user who deploys many) would stay on its disk.
const DefaultCacheMax = 2 << 30

// pruneMark is the file in a cache directory whose modification time is
// that of the last prune: a prune is due only when an entry was added
// since (a directory's modification time changes when a file is renamed
// into it).
const pruneMark = ".wasmrun-pruned"

// cacheMax is the cache's bound from CacheMaxEnv.
func cacheMax() int64 {
	if v := os.Getenv(CacheMaxEnv); v != "" {
		if n, err := bytesize.Parse(v); err == nil {
			return n
		}
	}
	return DefaultCacheMax
}

// maybePrune prunes the cache in dir to max if an entry was added since
// the last prune. It costs a directory listing of dir and two stats on
// the path of every start; errors are ignored (the cache never fails a
// run).
func maybePrune(dir string, max int64) {
	mark, err := os.Stat(filepath.Join(dir, pruneMark))
	globbed, _ := filepath.Glob(filepath.Join(dir, "wazero-*"))
	var subs []string
	due := false
	for _, s := range globbed {
		// wazero's own directories only: a symlink is never followed to
		// prune what it leads to.
		fi, serr := os.Lstat(s)
		if serr != nil || !fi.IsDir() {
			continue
		}
		subs = append(subs, s)
		if err != nil || fi.ModTime().After(mark.ModTime()) {
			due = true
		}
	}
	if !due {
		return
	}
	// The mark first: an entry added during the prune makes the next
	// start prune again.
	now := time.Now()
	if f, err := os.Create(filepath.Join(dir, pruneMark)); err == nil {
		f.Close()
		os.Chtimes(filepath.Join(dir, pruneMark), now, now)
	}
	pruneCache(subs, max, now)
}

// cacheEntry is a compiled module in the cache.
type cacheEntry struct {
	path string
	size int64
	used time.Time // the later of its access and modification times
}

// pruneCache removes the least recently used entries of wazero's cache
// directories subs until what remains is at most max bytes. An entry is as
// recent as the later of its access and modification times (with relatime,
// a read moves the access time at most once a day, which is fine enough
// here). Entries written or used in the last minute are kept (one may be
// the module just compiled, in use), and so are temporary files of a
// compile in progress, unless an hour old (a compile that died).
func pruneCache(subs []string, max int64, now time.Time) {
	var entries []cacheEntry
	var total int64
	for _, s := range subs {
		ents, err := os.ReadDir(s)
		if err != nil {
			continue
		}
		for _, e := range ents {
			fi, err := e.Info()
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			used := fi.ModTime()
			if at := accessTime(fi); at.After(used) {
				used = at
			}
			p := filepath.Join(s, e.Name())
			if strings.HasSuffix(e.Name(), ".tmp") {
				if now.Sub(used) > time.Hour {
					os.Remove(p)
				}
				continue
			}
			entries = append(entries, cacheEntry{p, fi.Size(), used})
			total += fi.Size()
		}
	}
	slices.SortFunc(entries, func(a, b cacheEntry) int { return a.used.Compare(b.used) })
	for _, e := range entries {
		if total <= max {
			break
		}
		if now.Sub(e.used) < time.Minute {
			break // the rest are as recent
		}
		if os.Remove(e.path) == nil {
			total -= e.size
		}
	}
}
