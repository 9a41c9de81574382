package task

import (
	"os"
	"path/filepath"
	"testing"

	runtimeoptions "github.com/containerd/containerd/api/types/runtimeoptions/v1"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
	"google.golang.org/protobuf/types/known/anypb"
)

func TestLoadConfig(t *testing.T) {
	t.Setenv("WASMRUN_CACHE_DIR", "")
	dir := t.TempDir()
	path := filepath.Join(dir, "shim.toml")
	if err := os.WriteFile(path, []byte("cache_dir = \"/x/cache\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := func(o *runtimeoptions.Options) *anypb.Any {
		a, err := typeurl.MarshalAnyToProto(o)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, tc := range []struct {
		name  string
		opts  *anypb.Any
		cache string
	}{
		{"no options", nil, DefaultCacheDir},
		{"config path", opts(&runtimeoptions.Options{ConfigPath: path}), "/x/cache"},
		{"config body", opts(&runtimeoptions.Options{ConfigBody: []byte("cache_dir = \"/y\"")}), "/y"},
		{"cache off", opts(&runtimeoptions.Options{ConfigBody: []byte("cache_dir = \"none\"")}), ""},
	} {
		cfg, err := loadConfig(tc.opts)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if cfg.CacheDir != tc.cache {
			t.Errorf("%s: cache dir %q, want %q", tc.name, cfg.CacheDir, tc.cache)
		}
	}
	_, err := loadConfig(opts(&runtimeoptions.Options{ConfigBody: []byte("cache_dir = ")}))
	if !errdefs.IsInvalidArgument(err) {
		t.Errorf("bad TOML: %v, want an invalid-argument error", err)
	}
	_, err = loadConfig(opts(&runtimeoptions.Options{ConfigPath: filepath.Join(dir, "missing.toml")}))
	if !errdefs.IsInvalidArgument(err) {
		t.Errorf("missing file: %v, want an invalid-argument error", err)
	}
}
