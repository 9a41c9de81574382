package task

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	containersapi "github.com/containerd/containerd/api/services/containers/v1"
	contentapi "github.com/containerd/containerd/api/services/content/v1"
	imagesapi "github.com/containerd/containerd/api/services/images/v1"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/log"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/wasmrun/wasmrun/oci"
)

// wasmMediaTypes are the layer media types of wasm OCI artifacts. Their
// layers are not tar archives: containerd skips them when it unpacks the
// image, so the rootfs arrives without the module and the shim fetches it
// from containerd's content store.
var wasmMediaTypes = map[string]bool{
	"application/wasm": true,
	"application/vnd.bytecodealliance.wasm.component.layer.v0+wasm": true,
	"application/vnd.wasm.content.layer.v1+wasm":                    true,
}

// maxBlob bounds the manifests and modules read from the content store.
const maxBlob = 512 << 20

// fetchWasmModule puts the wasm layer of task id's image at the module
// path (process.args[0]) inside root, when the image has one and the
// module is not already there. It reports whether it wrote the module.
func fetchWasmModule(ctx context.Context, grpcAddress, id, root string, spec *specs.Spec) (bool, error) {
	if _, err := oci.ResolveModule(root, spec); err == nil || grpcAddress == "" {
		return false, nil
	}
	conn, err := grpc.NewClient("unix://"+strings.TrimPrefix(grpcAddress, "unix://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return false, fmt.Errorf("connect to containerd: %w", err)
	}
	defer conn.Close()
	if ns, ok := namespaces.Namespace(ctx); ok {
		ctx = namespaces.WithNamespace(ctx, ns)
	}
	c, err := containersapi.NewContainersClient(conn).Get(ctx, &containersapi.GetContainerRequest{ID: id})
	if err != nil || c.Container.GetImage() == "" {
		return false, nil // not an image container, or not ours to find
	}
	img, err := imagesapi.NewImagesClient(conn).Get(ctx, &imagesapi.GetImageRequest{Name: c.Container.Image})
	if err != nil {
		return false, fmt.Errorf("look up image %s: %w", c.Container.Image, err)
	}
	content := contentapi.NewContentClient(conn)
	target := img.Image.GetTarget()
	desc := ocispec.Descriptor{MediaType: target.GetMediaType(), Digest: digest.Digest(target.GetDigest()), Size: target.GetSize()}
	layer, err := findWasmLayer(ctx, content, desc, 0)
	if err != nil || layer == nil {
		return false, err
	}
	// Where the module must be, by the same rules Create uses to find it
	// (process.cwd, symlinks kept inside root).
	m, err := oci.ModulePath(root, spec)
	if err != nil {
		return false, err
	}
	dst := m.HostPath
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return false, fmt.Errorf("write wasm layer: %w", err)
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return false, fmt.Errorf("write wasm layer: %w", err)
	}
	if err := readBlob(ctx, content, *layer, f); err != nil {
		f.Close()
		os.Remove(dst)
		return false, err
	}
	if err := f.Close(); err != nil {
		return false, err
	}
	log.G(ctx).WithField("layer", layer.Digest).Debugf("wasm layer of %s written to %s", c.Container.Image, dst)
	return true, nil
}

// findWasmLayer walks an index (preferring a wasm platform) or manifest
// down to its first wasm layer.
func findWasmLayer(ctx context.Context, content contentapi.ContentClient, desc ocispec.Descriptor, depth int) (*ocispec.Descriptor, error) {
	if depth > 4 {
		return nil, errors.New("image index nested too deeply")
	}
	switch desc.MediaType {
	case ocispec.MediaTypeImageIndex, "application/vnd.docker.distribution.manifest.list.v2+json":
		var idx ocispec.Index
		if err := readJSON(ctx, content, desc, &idx); err != nil {
			return nil, err
		}
		// Wasm platforms first, then the rest in order.
		var order []ocispec.Descriptor
		for _, m := range idx.Manifests {
			if m.Platform != nil && (m.Platform.OS == "wasip1" || m.Platform.OS == "wasi" || m.Platform.Architecture == "wasm") {
				order = append(order, m)
			}
		}
		order = append(order, idx.Manifests...)
		for _, m := range order {
			l, err := findWasmLayer(ctx, content, m, depth+1)
			if err != nil || l != nil {
				return l, err
			}
		}
		return nil, nil
	case ocispec.MediaTypeImageManifest, "application/vnd.docker.distribution.manifest.v2+json":
		var m ocispec.Manifest
		if err := readJSON(ctx, content, desc, &m); err != nil {
			return nil, err
		}
		for _, l := range m.Layers {
			if wasmMediaTypes[l.MediaType] {
				return &l, nil
			}
		}
	}
	return nil, nil
}

func readJSON(ctx context.Context, content contentapi.ContentClient, desc ocispec.Descriptor, v any) error {
	var b strings.Builder
	if err := readBlob(ctx, content, desc, &b); err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(b.String()), v); err != nil {
		return fmt.Errorf("parse %s %s: %w", desc.MediaType, desc.Digest, err)
	}
	return nil
}

func readBlob(ctx context.Context, content contentapi.ContentClient, desc ocispec.Descriptor, w io.Writer) error {
	if desc.Size > maxBlob {
		return fmt.Errorf("blob %s is %d bytes, more than %d", desc.Digest, desc.Size, maxBlob)
	}
	stream, err := content.Read(ctx, &contentapi.ReadContentRequest{Digest: string(desc.Digest)})
	if err != nil {
		return fmt.Errorf("read blob %s: %w", desc.Digest, err)
	}
	var n int64
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read blob %s: %w", desc.Digest, err)
		}
		if n += int64(len(resp.Data)); n > maxBlob {
			return fmt.Errorf("blob %s is larger than %d bytes", desc.Digest, maxBlob)
		}
		if _, err := w.Write(resp.Data); err != nil {
			return err
		}
	}
	return nil
}
