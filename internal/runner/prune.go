package runner

import (
	"io/fs"
	"os"
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
// run). Everything is done relative to the cache directory opened once
// (os.Root): a link put in the cache, or a directory swapped for one while
// the prune runs, never leads it to mark, list or remove anything outside.
func maybePrune(dir string, max int64) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return
	}
	defer root.Close()
	mark, merr := root.Lstat(pruneMark)
	ents, _ := fs.ReadDir(root.FS(), ".")
	var subs []string
	due := merr != nil || !mark.Mode().IsRegular()
	for _, e := range ents {
		// wazero's own directories only (a link is not one).
		if !strings.HasPrefix(e.Name(), "wazero-") || !e.IsDir() {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.IsDir() {
			continue
		}
		subs = append(subs, e.Name())
		if !due && fi.ModTime().After(mark.ModTime()) {
			due = true
		}
	}
	if !due {
		return
	}
	// The mark first: an entry added during the prune makes the next
	// start prune again. Never truncated, never a link followed.
	now := time.Now()
	if merr == nil && !mark.Mode().IsRegular() {
		root.Remove(pruneMark)
	}
	if f, err := root.OpenFile(pruneMark, os.O_WRONLY|os.O_CREATE, 0o600); err == nil {
		f.Close()
		root.Chtimes(pruneMark, now, now)
	}
	pruneCache(root, subs, max, now)
}

// cacheEntry is a compiled module in the cache: name in directory dir.
type cacheEntry struct {
	dir  *os.Root
	name string
	size int64
	used time.Time // the later of its access and modification times
}

// pruneCache removes the least recently used entries of wazero's cache
// directories subs (in root) until what remains is at most max bytes. An
// entry is as recent as the later of its access and modification times
// (with relatime, a read moves the access time at most once a day, which
// is fine enough here). Entries written or used in the last minute are
// kept (one may be the module just compiled, in use), and so are
// temporary files of a compile in progress, unless an hour old (a compile
// that died).
func pruneCache(root *os.Root, subs []string, max int64, now time.Time) {
	var entries []cacheEntry
	var total int64
	for _, s := range subs {
		sub, err := root.OpenRoot(s)
		if err != nil {
			continue
		}
		defer sub.Close()
		ents, err := fs.ReadDir(sub.FS(), ".")
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
			if strings.HasSuffix(e.Name(), ".tmp") {
				if now.Sub(used) > time.Hour {
					sub.Remove(e.Name())
				}
				continue
			}
			entries = append(entries, cacheEntry{sub, e.Name(), fi.Size(), used})
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
		if e.dir.Remove(e.name) == nil {
			total -= e.size
		}
	}
}
