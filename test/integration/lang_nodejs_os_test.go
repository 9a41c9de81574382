package integration

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestNodeOSLanguage: the example, unmodified, under
// `wasmrun os APP [--language nodejs] --forward HOSTPORT:3000`: the
// language detected from package.json in one copy and given by flag in the
// other, side by side on the same guest port; then the one-line errors.
func TestNodeOSLanguage(t *testing.T) {
	requireCNI(t)
	e := newOSEnv(t)
	wasm, cache := nodeWasm(t)
	rtDir := filepath.Dir(wasm)
	detected := e.app(nil, "", "")
	writeFile(t, filepath.Join(detected, "package.json"), `{"name": "seed", "main": "server.js"}`)
	writeFile(t, filepath.Join(detected, "server.js"), strings.Replace(seedServer, "process.env.PORT || 3000", "3000", 1))
	flagged := e.app(nil, "", "")
	writeFile(t, filepath.Join(flagged, "index.js"), strings.Replace(seedServer, "process.env.PORT || 3000", "3000", 1))
	ports := map[string]int{"detected": freePort(t, "tcp"), "flagged": freePort(t, "tcp")}
	runs := map[string]*osRun{
		"detected": e.start("--cache-dir", cache, "--runtime-dir", rtDir, "--name", "node-detected",
			"--forward", fmt.Sprintf("%d:3000", ports["detected"]), detected),
		"flagged": e.start("--cache-dir", cache, "--runtime-dir", rtDir, "--language", "nodejs", "--name", "node-flagged",
			"--forward", fmt.Sprintf("%d:3000", ports["flagged"]), flagged),
	}
	client := &http.Client{Timeout: sockWait}
	for name, r := range runs {
		r.waitFor("listening")
		if got := httpGet(t, client, fmt.Sprintf("http://127.0.0.1:%d/", ports[name])); got != "Hello from isolated namespace!" {
			t.Errorf("%s: got %q", name, got)
		}
	}
	terminateAll(t, runs)
	e.noLeaks(ports["detected"], ports["flagged"])

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--language", "cobol", flagged}, `unknown language "cobol"`},
		{[]string{"--language", "nodejs", e.app(nil, "", "")}, "no nodejs entry file"},
		{[]string{"--runtime-dir", t.TempDir(), flagged}, "make runtimes"},
	} {
		r := e.run(append([]string{"os"}, tc.args...)...)
		mustExit(t, r, ExitFailure)
		if len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("wasmrun os %s: stderr %q, want one line with %q", strings.Join(tc.args, " "), r.stderr, tc.want)
		}
	}
}
