package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmrun/wasmrun/internal/testdaemon"
)

// testShimReadOnly: through ctr, --read-only makes the rootfs read-only and
// a bind mount with options rbind:ro is read-only too: a guest changing
// either gets EROFS and they are unchanged; a rw mount stays writable.
func testShimReadOnly(t *testing.T, d *testdaemon.Daemon, rootfs string) {
	ro, rw := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(ro, "f"), "data")
	rootBefore, roBefore := treeHash(t, rootfs), treeHash(t, ro)
	mounts := []string{"--read-only",
		"--mount", "type=bind,src=" + ro + ",dst=/data,options=rbind:ro",
		"--mount", "type=bind,src=" + rw + ",dst=/rw,options=rbind:rw"}
	out, code := ctrRun(t, d, rootfs, newID("ro"), mounts,
		"write", "/app.wasm", "create", "/new", "read", "/data/f", "write", "/data/f", "unlink", "/data/f",
		"link", "/data/f", "/rw/l", "create", "/rw/ok")
	want := strings.Join([]string{
		"write /app.wasm errno " + wasiEROFS, "create /new errno " + wasiEROFS, "read /data/f ok",
		"write /data/f errno " + wasiEROFS, "unlink /data/f errno " + wasiEROFS,
		"link /data/f /rw/l errno " + wasiEROFS, "create /rw/ok ok"}, "\n")
	if code != 0 || strings.TrimSpace(out) != want {
		t.Errorf("exit %d, guest reported:\n%s\nwant:\n%s", code, out, want)
	}
	if treeHash(t, rootfs) != rootBefore || treeHash(t, ro) != roBefore {
		t.Error("the read-only rootfs or mount changed")
	}
	if _, err := os.Stat(filepath.Join(rw, "ok")); err != nil {
		t.Errorf("the rw mount: %v", err)
	}
}
