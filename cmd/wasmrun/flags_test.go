package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/wasmrun/wasmrun/wasi"
)

func TestParseRun(t *testing.T) {
	d1, d2 := t.TempDir(), t.TempDir()
	t.Setenv("WASMRUN_TEST_HOST_VAR", "from host")
	tests := []struct {
		name string
		args []string
		want runOpts
	}{
		{"module only", []string{"m.wasm"}, runOpts{module: "m.wasm"}},
		{"flags before module", []string{"--env", "A=1", "--dir", d1, "m.wasm"},
			runOpts{module: "m.wasm", env: []string{"A=1"}, dirs: []wasi.Preopen{{HostPath: d1, GuestPath: d1}}}},
		{"flags after module", []string{"m.wasm", "--env=A=1", "--dir=" + d1 + ":/data"},
			runOpts{module: "m.wasm", env: []string{"A=1"}, dirs: []wasi.Preopen{{HostPath: d1, GuestPath: "/data"}}}},
		{"flags around module", []string{"--dir", d1, "m.wasm", "--dir", d2 + ":/b", "-e", "B=2=3"},
			runOpts{module: "m.wasm", env: []string{"B=2=3"},
				dirs: []wasi.Preopen{{HostPath: d1, GuestPath: d1}, {HostPath: d2, GuestPath: "/b"}}}},
		{"guest args after --", []string{"m.wasm", "--", "--env", "x", "--"},
			runOpts{module: "m.wasm", args: []string{"--env", "x", "--"}}},
		{"flags then -- then args", []string{"m.wasm", "--no-cache", "--", "a", "b"},
			runOpts{module: "m.wasm", noCache: true, args: []string{"a", "b"}}},
		{"module after --", []string{"--env", "A=1", "--", "m.wasm", "--dir", "x"},
			runOpts{module: "m.wasm", env: []string{"A=1"}, args: []string{"--dir", "x"}}},
		{"positional guest args", []string{"m.wasm", "a", "--no-cache", "b"},
			runOpts{module: "m.wasm", noCache: true, args: []string{"a", "b"}}},
		{"empty guest arg", []string{"m.wasm", "--", ""},
			runOpts{module: "m.wasm", args: []string{""}}},
		{"env from host", []string{"--env", "WASMRUN_TEST_HOST_VAR", "m.wasm"},
			runOpts{module: "m.wasm", env: []string{"WASMRUN_TEST_HOST_VAR=from host"}}},
		{"env empty value", []string{"--env", "E=", "m.wasm"},
			runOpts{module: "m.wasm", env: []string{"E="}}},
		{"cache dir", []string{"--cache-dir", "/c", "m.wasm"}, runOpts{module: "m.wasm", cacheDir: "/c"}},
		{"cache dir =", []string{"m.wasm", "--cache-dir=/c"}, runOpts{module: "m.wasm", cacheDir: "/c"}},
		{"no-cache=false", []string{"m.wasm", "--no-cache=false"}, runOpts{module: "m.wasm"}},
		{"help", []string{"--help", "--bogus"}, runOpts{help: true}},
		{"dash module", []string{"-"}, runOpts{module: "-"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRun(tc.args)
			if err != nil {
				t.Fatalf("parseRun(%q): %v", tc.args, err)
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("parseRun(%q)\n got  %+v\n want %+v", tc.args, *got, tc.want)
			}
		})
	}
}

func TestParseRunErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Unsetenv("WASMRUN_TEST_UNSET_VAR")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no args", nil, "missing MODULE"},
		{"flags only", []string{"--no-cache"}, "missing MODULE"},
		{"-- without module", []string{"--"}, "missing MODULE"},
		{"unknown flag", []string{"m.wasm", "--bogus"}, "unknown flag --bogus"},
		{"unknown short flag", []string{"-x", "m.wasm"}, "unknown flag -x"},
		{"flag without value", []string{"m.wasm", "--env"}, "--env needs a value"},
		{"dir missing", []string{"--dir", filepath.Join(dir, "nope"), "m.wasm"}, "no such file or directory"},
		{"dir is a file", []string{"--dir", file, "m.wasm"}, "not a directory"},
		{"dir empty host", []string{"--dir", ":/g", "m.wasm"}, "want HOST[:GUEST]"},
		{"dir empty guest", []string{"--dir", dir + ":", "m.wasm"}, "want HOST[:GUEST]"},
		{"env empty key", []string{"--env", "=v", "m.wasm"}, "want KEY=VALUE"},
		{"env unset on host", []string{"--env", "WASMRUN_TEST_UNSET_VAR", "m.wasm"}, "not set on the host"},
		{"no-cache bad value", []string{"--no-cache=maybe", "m.wasm"}, "--no-cache"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRun(tc.args)
			if err == nil {
				t.Fatalf("parseRun(%q) = %+v, want an error", tc.args, *got)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("parseRun(%q): %q, want one line with %q", tc.args, err, tc.want)
			}
		})
	}
}
