package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstancesFlag: --instances takes 1 to 256 or auto; anything else is
// one error line naming the flag and the value, with exit 125, before
// anything is made (the state dir stays empty).
func TestInstancesFlag(t *testing.T) {
	for v, want := range map[string]instanceCount{"1": {n: 1}, "2": {n: 2}, "256": {n: 256}, "auto": {auto: true}} {
		o, err := parseOS([]string{"--instances", v, "app"})
		if err != nil || o.instances != want {
			t.Errorf("--instances %s: %+v, %v; want %+v", v, o, err, want)
		}
		if o, err := parseOS([]string{"app", "--instances=" + v}); err != nil || o.instances != want {
			t.Errorf("--instances=%s after APP: %+v, %v; want %+v", v, o, err, want)
		}
	}
	state := t.TempDir()
	t.Setenv("WASMRUN_STATE_DIR", state)
	app := t.TempDir()
	for _, v := range []string{"0", "-3", "abc", "257", "1000000", "", "2.5", "AUTO", " 2"} {
		r := call(t, "os", "--instances", v, app)
		if r.code != ExitFailure || r.stdout != "" {
			t.Errorf("--instances %q = %+v, want exit %d and no output", v, r, ExitFailure)
		}
		oneLine(t, "stderr", r.stderr, "--instances", "want a number of instances from 1 to 256, or auto")
	}
	r := call(t, "os", app, "--instances")
	oneLine(t, "stderr", r.stderr, "--instances needs a value")
	if ents, _ := os.ReadDir(state); len(ents) > 0 {
		t.Errorf("a bad --instances left %d entries in the state dir", len(ents))
	}
}

// TestInstancesConfig: instances in .wasmrun.toml is a number from 1 to
// 256 or "auto"; a bad one names the key; --instances wins over it.
func TestInstancesConfig(t *testing.T) {
	dir := t.TempDir()
	load := func(line string) (*appConfig, error) {
		path := filepath.Join(dir, ConfigName)
		if err := os.WriteFile(path, []byte(line+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return loadConfig(path, true)
	}
	for line, want := range map[string]instanceCount{
		"": {}, "instances = 1": {n: 1}, "instances = 4": {n: 4}, `instances = "auto"`: {auto: true},
	} {
		cfg, err := load(line)
		if err != nil || cfg.Instances != want {
			t.Errorf("%q: %+v, %v; want %+v", line, cfg, err, want)
		}
	}
	for _, line := range []string{"instances = 0", "instances = -3", `instances = "abc"`, "instances = 257", "instances = 2.5", "instances = true", `instances = "4"`} {
		_, err := load(line)
		if err == nil || !strings.Contains(err.Error(), "instances") || !strings.Contains(err.Error(), "from 1 to 256") {
			t.Errorf("%q: error %v, want one about instances from 1 to 256", line, err)
		}
	}

	if err := os.WriteFile(filepath.Join(dir, ConfigName), []byte("instances = 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	// On the host network, the instances' SO_REUSEPORT ports could be
	// joined by any process of the app's user: refused.
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, ConfigName), []byte("instances = 2\n[network]\nisolation = false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(host, "app.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	if o, err := parseOS([]string{host}); err != nil {
		t.Fatal(err)
	} else if _, err := resolveApp(o); err == nil || !strings.Contains(err.Error(), "--instances needs network isolation") {
		t.Errorf("instances = 2 with isolation = false: error %v, want a refusal", err)
	}
	if o, err := parseOS([]string{"--instances", "1", host}); err != nil {
		t.Fatal(err)
	} else if _, err := resolveApp(o); err != nil {
		t.Errorf("--instances 1 with isolation = false: %v", err)
	}

	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{dir}, 3},
		{[]string{"--instances", "2", dir}, 2},
		{[]string{"--instances", "1", dir}, 1},
	} {
		o, err := parseOS(tc.args)
		if err != nil {
			t.Fatal(err)
		}
		a, err := resolveApp(o)
		if err != nil {
			t.Fatal(err)
		}
		if a.instances != tc.want {
			t.Errorf("%q: %d instances, want %d", tc.args, a.instances, tc.want)
		}
	}
}

// TestInstancesAuto: auto is the CPUs wasmrun may run on, fewer under
// --cpus, and at least 1.
func TestInstancesAuto(t *testing.T) {
	all, why := instanceCount{auto: true}.count(0)
	if all < 1 || why == "" {
		t.Fatalf("auto = %d (%s), want at least 1 and a reason", all, why)
	}
	if n, why := (instanceCount{auto: true}).count(0.5); n != 1 || !strings.Contains(why, "--cpus 0.5") && all > 1 {
		t.Errorf("auto under --cpus 0.5 = %d (%s), want 1", n, why)
	}
	if n, _ := (instanceCount{auto: true}).count(1000); n != all {
		t.Errorf("auto under --cpus 1000 = %d, want %d", n, all)
	}
	if n, _ := (instanceCount{}).count(0); n != 1 {
		t.Errorf("unset = %d instances, want 1", n)
	}
	f := filepath.Join(t.TempDir(), "cpu.max")
	for content, want := range map[string]int{"max 100000\n": 0, "150000 100000\n": 2, "50000 100000\n": 1, "200000 100000\n": 2, "junk\n": 0} {
		os.WriteFile(f, []byte(content), 0o644)
		if got := quotaCPUs(f); got != want {
			t.Errorf("cpu.max %q = %d CPUs, want %d", content, got, want)
		}
	}
}
