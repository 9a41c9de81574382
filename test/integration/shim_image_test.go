package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmrun/wasmrun/internal/testdaemon"
)

// ociImage writes an OCI image layout tarball named ref (linux/amd64, one
// gzip layer holding /app.wasm) whose entrypoint is the module and whose
// command is cmd; it returns the tarball's path.
func ociImage(t testing.TB, ref, wasm string, cmd []string, env []string) string {
	t.Helper()
	module, err := os.ReadFile(wasm)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "image.tar")
	files := []testdaemon.ImageFile{{Name: "app.wasm", Mode: 0o644, Data: module}}
	if err := testdaemon.WriteImage(path, ref, files, []string{"/app.wasm"}, cmd, env); err != nil {
		t.Fatal(err)
	}
	return path
}

// wasmArtifactImage is like ociImage, but a wasip1/wasm image whose one
// layer is the raw module (application/vnd.wasm.content.layer.v1+wasm),
// which containerd does not unpack.
func wasmArtifactImage(t testing.TB, ref, wasm string, cmd []string, env []string) string {
	t.Helper()
	module, err := os.ReadFile(wasm)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "image.tar")
	if err := testdaemon.WriteArtifactImage(path, ref, module, "application/vnd.wasm.content.layer.v1+wasm", cmd, env); err != nil {
		t.Fatal(err)
	}
	return path
}

// testShimImage imports an OCI image with a wasm entrypoint and runs it:
// the rootfs arrives as overlay mounts that the shim mounts and unmounts.
func testShimImage(t *testing.T, d *testdaemon.Daemon, wasm string) {
	ref := "docker.io/wasmrun/args-env-exit:test"
	d.MustCtr(t, "images", "import", ociImage(t, ref, wasm, []string{"3", "from-image"}, []string{"GREETING=image"}))
	id := newID("image")
	ctx, cancel := testContext()
	defer cancel()
	out, _, err := d.Ctr(ctx, "run", "--rm", "--runtime", shimRuntime, ref, id)
	code, _ := unwrapExit(err)
	if err != nil && code == 0 {
		t.Fatalf("%v\ndaemon log:\n%s", err, d.TailLog())
	}
	if code != 3 {
		t.Fatalf("exit code %d, want 3 (%v)\nstdout:\n%s", code, err, out)
	}
	for _, want := range []string{"arg 2 [from-image]", "lookup GREETING [image]"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), id) {
		t.Errorf("rootfs mount of %s left behind", id)
	}
}

// testShimWasmArtifact runs a wasip1/wasm image whose layer is the raw
// module: containerd unpacks nothing, the shim fetches the layer from the
// content store into the rootfs. (containerd 2.x only: 1.6 cannot unpack
// such images.)
func testShimWasmArtifact(t *testing.T, d *testdaemon.Daemon, wasm string) {
	ref := "docker.io/wasmrun/artifact:test"
	d.MustCtr(t, "images", "import", "--all-platforms", wasmArtifactImage(t, ref, wasm, []string{"4", "artifact"}, []string{"GREETING=artifact"}))
	id := newID("artifact")
	ctx, cancel := testContext()
	defer cancel()
	out, _, err := d.Ctr(ctx, "run", "--rm", "--platform", "wasip1/wasm", "--runtime", shimRuntime, ref, id)
	code, _ := unwrapExit(err)
	if code != 4 {
		t.Fatalf("exit code %d, want 4 (%v)\nstdout:\n%s\ndaemon log:\n%s", code, err, out, d.TailLog())
	}
	for _, want := range []string{"arg 2 [artifact]", "lookup GREETING [artifact]"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
}
