package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Interpreted apps: `wasmrun os APP --language nodejs|python` runs APP's
// entry file on a runtime module (a WASI build of the interpreter) from the
// runtime directory; see runtimes/README.md. The guest's "/" is then the
// runtime directory, read-only, and APP is mounted read-write at /app
// (planLaunch). `wasmrun runtimes` lists the installed runtimes.

// language is a language wasmrun can run from source.
type language struct {
	name    string
	entries []string // default entry files, in order
	markers []string // files that mark an app of this language
	exts    []string // source file extensions
	env     []string // guest environment the runtime needs
}

var languages = []language{
	{name: "nodejs", entries: []string{"index.js", "server.js", "app.js", "main.js"}, markers: []string{"package.json"}, exts: []string{".js", ".cjs"}},
	// python's stdlib is RUNTIME_DIR/python/lib, /python/lib in the guest.
	{name: "python", entries: []string{"main.py", "app.py", "__main__.py"}, markers: []string{"requirements.txt", "pyproject.toml"}, exts: []string{".py"},
		env: []string{"PYTHONHOME=/python"}},
}

var languageAliases = map[string]string{
	"node": "nodejs", "js": "nodejs", "javascript": "nodejs",
	"py": "python", "python3": "python",
}

// appMount is where the app directory appears in an interpreted app's guest.
const appMount = "/app"

// RuntimeDirEnv overrides the default runtime directory.
const RuntimeDirEnv = "WASMRUN_RUNTIME_DIR"

func lookupLanguage(name string) (*language, error) {
	n := strings.ToLower(name)
	if a, ok := languageAliases[n]; ok {
		n = a
	}
	for i := range languages {
		if languages[i].name == n {
			return &languages[i], nil
		}
	}
	names := make([]string, len(languages))
	for i, l := range languages {
		names[i] = l.name
	}
	return nil, fmt.Errorf("unknown language %q (known: %s)", name, strings.Join(names, ", "))
}

// detectLanguage guesses the language of an app directory: "" when it holds
// a .wasm module (a plain app) or nothing recognisable.
func detectLanguage(dir string) string {
	if m, _ := filepath.Glob(filepath.Join(dir, "*.wasm")); len(m) > 0 {
		return ""
	}
	for _, l := range languages {
		for _, f := range l.markers {
			if fileExists(filepath.Join(dir, f)) {
				return l.name
			}
		}
	}
	for _, l := range languages {
		for _, ext := range l.exts {
			if m, _ := filepath.Glob(filepath.Join(dir, "*"+ext)); len(m) > 0 {
				return l.name
			}
		}
	}
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// findEntry returns the entry file of an app, relative to dir: the
// configured one, package.json "main" (nodejs), or the first default entry
// that exists.
func findEntry(dir string, l *language, configured string) (string, error) {
	if configured != "" {
		rel := filepath.Clean(configured)
		if filepath.IsAbs(rel) || strings.HasPrefix(rel, "..") {
			return "", fmt.Errorf("entry %q: must be relative to the app directory", configured)
		}
		if !fileExists(filepath.Join(dir, rel)) {
			return "", fmt.Errorf("app %s: entry file %s not found", dir, rel)
		}
		return rel, nil
	}
	if l.name == "nodejs" {
		if b, err := os.ReadFile(filepath.Join(dir, "package.json")); err == nil {
			var pkg struct {
				Main string `json:"main"`
			}
			if json.Unmarshal(b, &pkg) == nil && pkg.Main != "" {
				rel := filepath.Clean(pkg.Main)
				for _, c := range []string{rel, rel + ".js", filepath.Join(rel, "index.js")} {
					if st, err := os.Stat(filepath.Join(dir, c)); err == nil && !st.IsDir() && !strings.HasPrefix(c, "..") {
						return c, nil
					}
				}
				return "", fmt.Errorf("app %s: package.json main %q not found", dir, pkg.Main)
			}
		}
	}
	for _, e := range l.entries {
		if fileExists(filepath.Join(dir, e)) {
			return e, nil
		}
	}
	return "", fmt.Errorf("app %s: no %s entry file (looked for %s); name one with entry = \"...\" in %s",
		dir, l.name, strings.Join(l.entries, ", "), ConfigName)
}

// runtimeDir is the runtime directory: the flag, else the config, else
// $WASMRUN_RUNTIME_DIR, else "runtimes" next to the wasmrun binary.
func runtimeDir(flag, configured string) string {
	for _, d := range []string{flag, configured, os.Getenv(RuntimeDirEnv)} {
		if d != "" {
			return d
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return "runtimes"
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return filepath.Join(filepath.Dir(exe), "runtimes")
}

// findRuntime returns the module of runtime name in dir, relative to dir:
// NAME.wasm or NAME/NAME.wasm.
func findRuntime(dir, name string) (string, error) {
	for _, rel := range []string{name + ".wasm", filepath.Join(name, name+".wasm")} {
		if st, err := os.Stat(filepath.Join(dir, rel)); err == nil && st.Mode().IsRegular() {
			return rel, nil
		}
	}
	return "", fmt.Errorf("no %s runtime in %s: build it with `make runtimes` (or scripts/build-runtimes.sh %s), or point --runtime-dir or %s at a runtime directory",
		name, dir, name, RuntimeDirEnv)
}

// launch is how an interpreted app runs: the guest's "/" is the runtime
// directory (read-only) with the runtime as the module, the app directory
// is mounted read-write at /app, and the entry file is the first argument.
type launch struct {
	root     string // host runtime directory, the guest's read-only "/"
	module   string // the runtime module, relative to root
	mounts   []specs.Mount
	args     []string // entry (guest path) then the app's arguments
	env      []string // PWD=/app and what the runtime needs; the app's own env goes after
	cwd      string
	language string
	entry    string // relative to the app directory
}

// planLaunch resolves an interpreted app: its language (lang, else the
// config's, else detected), entry file (configured, else the language's
// defaults) and runtime (from rtDir). app may be the entry file itself.
// It returns nil, nil for an app that is not interpreted (a .wasm module).
func planLaunch(app, lang, configuredEntry, rtDir string, args []string) (*launch, error) {
	dir := app
	st, err := os.Stat(app)
	if err != nil {
		return nil, fmt.Errorf("app %s: %v", app, unwrapPath(err))
	}
	if !st.IsDir() {
		if strings.HasSuffix(app, ".wasm") && lang == "" {
			return nil, nil
		}
		dir = filepath.Dir(app)
		if configuredEntry == "" {
			configuredEntry = filepath.Base(app)
		}
		if lang == "" {
			for _, l := range languages {
				for _, ext := range l.exts {
					if strings.HasSuffix(app, ext) {
						lang = l.name
					}
				}
			}
		}
	}
	if lang == "" {
		lang = detectLanguage(dir)
	}
	if lang == "" {
		return nil, nil
	}
	l, err := lookupLanguage(lang)
	if err != nil {
		return nil, err
	}
	entry, err := findEntry(dir, l, configuredEntry)
	if err != nil {
		return nil, err
	}
	mod, err := findRuntime(rtDir, l.name)
	if err != nil {
		return nil, err
	}
	root, err := filepath.Abs(rtDir)
	if err != nil {
		return nil, err
	}
	appDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	return &launch{
		root:     root,
		module:   mod,
		mounts:   []specs.Mount{{Type: "bind", Source: appDir, Destination: appMount, Options: []string{"rbind", "ro"}}},
		args:     append([]string{appMount + "/" + filepath.ToSlash(entry)}, args...),
		env:      append([]string{"PWD=" + appMount}, l.env...),
		cwd:      appMount,
		language: l.name,
		entry:    entry,
	}, nil
}

// runtimesCmd is `wasmrun runtimes [--runtime-dir DIR]`: the runtimes
// installed in the runtime directory.
func runtimesCmd(args []string, stdout, stderr io.Writer) int {
	var flag string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--runtime-dir" && i+1 < len(args):
			flag = args[i+1]
			i++
		case strings.HasPrefix(a, "--runtime-dir="):
			flag = strings.TrimPrefix(a, "--runtime-dir=")
		default:
			fmt.Fprintf(stderr, "wasmrun runtimes: unknown argument %q (usage: wasmrun runtimes [--runtime-dir DIR])\n", a)
			return ExitFailure
		}
	}
	dir := runtimeDir(flag, "")
	fmt.Fprintf(stdout, "runtime directory: %s\n", dir)
	var found []string
	for _, l := range languages {
		mod, err := findRuntime(dir, l.name)
		if err != nil {
			continue
		}
		st, err := os.Stat(filepath.Join(dir, mod))
		if err != nil {
			continue
		}
		found = append(found, fmt.Sprintf("%-8s %s (%.1f MiB)", l.name, filepath.Join(dir, mod), float64(st.Size())/(1<<20)))
	}
	sort.Strings(found)
	if len(found) == 0 {
		fmt.Fprintln(stdout, "no runtimes installed: build them with `make runtimes` (scripts/build-runtimes.sh)")
		return 0
	}
	for _, f := range found {
		fmt.Fprintln(stdout, f)
	}
	return 0
}
