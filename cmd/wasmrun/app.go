package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// buildDirs are where toolchains put a module, searched after APP itself
// when APP is a directory and names no module.
var buildDirs = []string{
	"build", "bin", "dist", "out",
	"target/wasm32-wasip1/release", "target/wasm32-wasi/release",
	"target/wasm32-wasip1/debug", "target/wasm32-wasi/debug",
}

// findModule resolves APP to a module file: APP itself when it is a file,
// the module named in the config, the only .wasm in APP, or the only one in
// a conventional build output directory.
func findModule(app, configured string) (string, error) {
	st, err := os.Stat(app)
	if err != nil {
		return "", fmt.Errorf("app %s: %v", app, unwrapPath(err))
	}
	if !st.IsDir() {
		return app, nil
	}
	if configured != "" {
		p := filepath.Join(app, configured)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("app %s: module %s named in %s: %v", app, configured, ConfigName, unwrapPath(err))
		}
		return p, nil
	}
	var found []string
	for _, dir := range append([]string{"."}, buildDirs...) {
		matches, _ := filepath.Glob(filepath.Join(app, dir, "*.wasm"))
		sort.Strings(matches)
		if len(matches) == 1 {
			return matches[0], nil
		}
		found = append(found, matches...)
		if len(matches) > 1 {
			break
		}
	}
	if len(found) == 0 {
		return "", fmt.Errorf("app %s: no .wasm module found (looked in the directory and %s); name one with module = \"...\" in %s",
			app, strings.Join(buildDirs, ", "), ConfigName)
	}
	for i, f := range found {
		found[i], _ = filepath.Rel(app, f)
	}
	return "", fmt.Errorf("app %s: several modules found (%s); name one with module = \"...\" in %s",
		app, strings.Join(found, ", "), ConfigName)
}
