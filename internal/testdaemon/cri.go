package testdaemon

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// CRINamespace is the containerd namespace of the CRI plugin.
const CRINamespace = "k8s.io"

// CRI configures the daemon's CRI plugin (Options.CRI): a sandbox image,
// CNI and runtime handlers, all private to the test.
type CRI struct {
	// SandboxImage is the pod sandbox (pause) image; import it into
	// CRINamespace before the first pod (ImportImage, SandboxImage).
	SandboxImage string
	// CNIBinDir holds the CNI plugins (default /usr/lib/cni).
	CNIBinDir string
	// CNIConfDir holds the network conflist (required).
	CNIConfDir string
	// Runtimes maps runtime handler names to runtime types
	// ("wasmrun" -> "io.containerd.wasmrun.v1").
	Runtimes map[string]string
}

func (c *CRI) config(version int) string {
	var b strings.Builder
	q := strconv.Quote
	bin := c.CNIBinDir
	if bin == "" {
		bin = "/usr/lib/cni"
	}
	if version >= 3 {
		fmt.Fprintf(&b, "[plugins.'io.containerd.cri.v1.images'.pinned_images]\n  sandbox = %s\n\n", q(c.SandboxImage))
		fmt.Fprintf(&b, "[plugins.'io.containerd.cri.v1.runtime']\n  netns_mounts_under_state_dir = true\n\n")
		fmt.Fprintf(&b, "[plugins.'io.containerd.cri.v1.runtime'.cni]\n  bin_dirs = [%s]\n  conf_dir = %s\n\n", q(bin), q(c.CNIConfDir))
		for name, typ := range c.Runtimes {
			fmt.Fprintf(&b, "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.%s]\n  runtime_type = %s\n\n", name, q(typ))
		}
		return b.String()
	}
	fmt.Fprintf(&b, "[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = %s\n  netns_mounts_under_state_dir = true\n\n", q(c.SandboxImage))
	fmt.Fprintf(&b, "[plugins.\"io.containerd.grpc.v1.cri\".cni]\n  bin_dir = %s\n  conf_dir = %s\n\n", q(bin), q(c.CNIConfDir))
	for name, typ := range c.Runtimes {
		fmt.Fprintf(&b, "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.%s]\n  runtime_type = %s\n\n", name, q(typ))
	}
	return b.String()
}

// toolPath finds tool name (installed by scripts/install-containerd.sh
// into GOPATH/wasmrun-tools/DIRNAME, or $ENV) or skips the test.
func toolPath(t TB, env, dirName, name string) string {
	t.Helper()
	dir := os.Getenv(env)
	if dir == "" {
		dir = filepath.Join(goPath(), "wasmrun-tools", dirName)
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		missing(t, "%s is not installed: %v", name, err)
	}
	return p
}

func goPath() string {
	if gopath := os.Getenv("GOPATH"); gopath != "" {
		return gopath
	}
	out, _ := exec.Command("go", "env", "GOPATH").Output()
	return strings.TrimSpace(string(out))
}

// CrictlPath returns crictl v1.37.0 or skips the test.
func CrictlPath(t TB) string {
	return toolPath(t, "WASMRUN_CRICTL_DIR", "crictl-1.37.0", "crictl")
}

// NerdctlPath returns nerdctl v2.2.1 or skips the test.
func NerdctlPath(t TB) string {
	return toolPath(t, "WASMRUN_NERDCTL_DIR", "nerdctl-2.2.1", "nerdctl")
}

// CtrNS runs ctr against the daemon in namespace ns.
func (d *Daemon) CtrNS(ctx context.Context, ns string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(ctx, d.Bin.Ctr, append([]string{"--address", d.Address, "--namespace", ns}, args...)...)
	cmd.Env = d.env
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if err != nil {
		err = fmt.Errorf("ctr -n %s %s: %w: %s", ns, strings.Join(args, " "), err, strings.TrimSpace(e.String()))
	}
	return o.String(), e.String(), err
}

// Crictl runs crictl (path from CrictlPath) against the daemon's CRI
// endpoint and returns stdout and stderr.
func (d *Daemon) Crictl(ctx context.Context, crictl string, args ...string) (stdout, stderr string, err error) {
	cmd, err := d.CrictlCommand(ctx, crictl, args...)
	if err != nil {
		return "", "", err
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if err != nil {
		err = fmt.Errorf("crictl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(e.String()))
	}
	return o.String(), e.String(), err
}

// CrictlCommand is crictl (path from CrictlPath) with ARGS against the
// daemon's CRI endpoint, not started: for one that runs in the background
// (port-forward).
func (d *Daemon) CrictlCommand(ctx context.Context, crictl string, args ...string) (*exec.Cmd, error) {
	// A config of our own: not the machine's /etc/crictl.yaml.
	conf := filepath.Join(d.Dir, "crictl.yaml")
	if _, err := os.Stat(conf); err != nil {
		ep := "unix://" + d.Address
		y := fmt.Sprintf("runtime-endpoint: %s\nimage-endpoint: %s\ntimeout: 60\n", ep, ep)
		if err := os.WriteFile(conf, []byte(y), 0o644); err != nil {
			return nil, err
		}
	}
	cmd := exec.CommandContext(ctx, crictl, append([]string{"--config", conf}, args...)...)
	cmd.Env = d.env
	return cmd, nil
}

// MustCrictl runs crictl and fails the test on error; it returns stdout
// without surrounding space.
func (d *Daemon) MustCrictl(t TB, crictl string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, _, err := d.Crictl(ctx, crictl, args...)
	if err != nil {
		t.Fatalf("%v\ndaemon log:\n%s", err, d.tailLog())
	}
	return strings.TrimSpace(out)
}

// Env is the daemon's environment (its PATH finds the binaries under
// test), for other clients such as nerdctl.
func (d *Daemon) Env() []string { return append([]string{}, d.env...) }

// ImageFile is one regular file of an image layer.
type ImageFile struct {
	Name string // path inside the image, without a leading slash
	Mode int64
	Data []byte
	Link string // when set, the file is a symlink to Link
}

// WriteImage writes an OCI image layout tarball to path: image ref
// (linux/amd64), one gzip layer of files, the given entrypoint, command
// and environment. `ctr images import` takes it.
func WriteImage(path, ref string, files []ImageFile, entrypoint, cmd, env []string) error {
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	dirs := map[string]bool{}
	for _, f := range files {
		for d := filepath.Dir(f.Name); d != "." && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
		}
	}
	var dl []string
	for d := range dirs {
		dl = append(dl, d)
	}
	// Parents before children.
	for i := range dl {
		for j := i + 1; j < len(dl); j++ {
			if len(dl[j]) < len(dl[i]) {
				dl[i], dl[j] = dl[j], dl[i]
			}
		}
	}
	for _, d := range dl {
		tw.WriteHeader(&tar.Header{Name: d + "/", Mode: 0o755, Typeflag: tar.TypeDir})
	}
	for _, f := range files {
		h := &tar.Header{Name: f.Name, Mode: f.Mode, Size: int64(len(f.Data)), Typeflag: tar.TypeReg}
		if f.Link != "" {
			h = &tar.Header{Name: f.Name, Mode: 0o777, Linkname: f.Link, Typeflag: tar.TypeSymlink}
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		tw.Write(f.Data)
	}
	tw.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(layer.Bytes())
	zw.Close()

	diffID := fmt.Sprintf("sha256:%x", sha256.Sum256(layer.Bytes()))
	return writeLayout(path, ref, "linux", "amd64", []string{diffID}, entrypoint, cmd, env,
		"application/vnd.oci.image.layer.v1.tar+gzip", gz.Bytes())
}

// WriteArtifactImage writes an OCI image layout tarball to path whose one
// layer is module itself, of a wasm media type (not a tar: containerd
// unpacks nothing and hands the layer to the runtime), for platform
// wasip1/wasm, with entrypoint /app.wasm, cmd and env.
func WriteArtifactImage(path, ref string, module []byte, mediaType string, cmd, env []string) error {
	return writeLayout(path, ref, "wasip1", "wasm", []string{}, []string{"/app.wasm"}, cmd, env, mediaType, module)
}

// writeLayout writes the layout tarball of an image with one layer: config
// (platform, diff ids, entrypoint, cmd, env), manifest, index naming ref.
func writeLayout(path, ref, osName, arch string, diffIDs, entrypoint, cmd, env []string, layerType string, layer []byte) error {
	blobs := map[string][]byte{}
	desc := func(mediaType string, b []byte) map[string]any {
		d := fmt.Sprintf("sha256:%x", sha256.Sum256(b))
		blobs[d] = b
		return map[string]any{"mediaType": mediaType, "digest": d, "size": len(b)}
	}
	config, err := json.Marshal(map[string]any{
		"architecture": arch, "os": osName,
		"config": map[string]any{"Entrypoint": entrypoint, "Cmd": cmd, "Env": env, "WorkingDir": "/"},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	if err != nil {
		return err
	}
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": desc("application/vnd.oci.image.config.v1+json", config),
		"layers": []any{desc(layerType, layer)},
	})
	if err != nil {
		return err
	}
	md := desc("application/vnd.oci.image.manifest.v1+json", manifest)
	md["annotations"] = map[string]string{"io.containerd.image.name": ref, "org.opencontainers.image.ref.name": ref[strings.LastIndexByte(ref, ':')+1:]}
	md["platform"] = map[string]string{"architecture": arch, "os": osName}
	index, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []any{md}})
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	ow := tar.NewWriter(f)
	add := func(name string, b []byte) {
		ow.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		ow.Write(b)
	}
	add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	add("index.json", index)
	for d, b := range blobs {
		add("blobs/sha256/"+strings.TrimPrefix(d, "sha256:"), b)
	}
	if err := ow.Close(); err != nil {
		return err
	}
	return f.Close()
}

// ImportImage writes an image (WriteImage) and imports it into namespace
// ns of the daemon.
func (d *Daemon) ImportImage(t TB, ns, ref string, files []ImageFile, entrypoint, cmd, env []string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "image.tar")
	if err := WriteImage(path, ref, files, entrypoint, cmd, env); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, _, err := d.CtrNS(ctx, ns, "images", "import", path); err != nil {
		t.Fatalf("%v\ndaemon log:\n%s", err, d.tailLog())
	}
}

// BusyboxStatic is Debian's busybox-static binary (the sandbox image's
// `sleep`).
const BusyboxStatic = "/bin/busybox"

// ImportBusyboxImage imports a native busybox image (busybox-static as
// /bin/busybox, the given applets linked to it under /bin, no entrypoint:
// a container gives its command) as ref into namespace ns. It skips the
// test when busybox-static is missing.
func (d *Daemon) ImportBusyboxImage(t TB, ns, ref string, applets ...string) {
	t.Helper()
	bb, err := os.ReadFile(BusyboxStatic)
	if err != nil {
		missing(t, "busybox-static is not installed: %v", err)
	}
	files := []ImageFile{{Name: "bin/busybox", Mode: 0o755, Data: bb}}
	for _, a := range applets {
		files = append(files, ImageFile{Name: "bin/" + a, Link: "busybox"})
	}
	d.ImportImage(t, ns, ref, files, nil, []string{"/bin/sh"}, []string{"PATH=/bin"})
}

// ImportSandboxImage imports a native pause image (busybox-static as
// /bin/sleep, entrypoint `sleep infinity`) as ref into CRINamespace. It
// skips the test when busybox-static is missing.
func (d *Daemon) ImportSandboxImage(t TB, ref string) {
	t.Helper()
	bb, err := os.ReadFile(BusyboxStatic)
	if err != nil {
		missing(t, "busybox-static is not installed: %v", err)
	}
	d.ImportImage(t, CRINamespace, ref, []ImageFile{{Name: "bin/sleep", Mode: 0o755, Data: bb}}, []string{"/bin/sleep", "infinity"}, nil, nil)
}
