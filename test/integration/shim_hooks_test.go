package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/wasmrun/wasmrun/internal/testdaemon"
)

// testShimHooks runs a spec (ctr run --config) whose OCI hooks record the
// state JSON they get on stdin and the order they ran in.
func testShimHooks(t *testing.T, d *testdaemon.Daemon, rootfs string) {
	dir := t.TempDir()
	hook := func(name string) specs.Hook {
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > " + filepath.Join(dir, name+".json") + "; echo " + name + " >> " + filepath.Join(dir, "order")}}
	}
	spec := specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{Args: []string{"/app.wasm", "0"}, Cwd: "/", Env: []string{"GREETING=hooks"}},
		Root:    &specs.Root{Path: rootfs},
		Linux:   &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.NetworkNamespace}}},
		Hooks: &specs.Hooks{
			CreateRuntime:   []specs.Hook{hook("createRuntime")},
			CreateContainer: []specs.Hook{hook("createContainer")},
			StartContainer:  []specs.Hook{hook("startContainer")},
			Poststart:       []specs.Hook{hook("poststart")},
			Poststop:        []specs.Hook{hook("poststop")},
		},
	}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	specPath := filepath.Join(dir, "config.json")
	writeFile(t, specPath, string(b))
	id := newID("hooks")
	ctx, cancel := testContext()
	defer cancel()
	out, _, err := d.Ctr(ctx, "run", "--rm", "--runtime", shimRuntime, "--config", specPath, id)
	if err != nil {
		t.Fatalf("%v\ndaemon log:\n%s", err, d.TailLog())
	}
	if !strings.Contains(out, "lookup GREETING [hooks]\n") {
		t.Errorf("stdout:\n%s", out)
	}
	order := readFile(t, filepath.Join(dir, "order"))
	if want := "createRuntime\ncreateContainer\nstartContainer\npoststart\npoststop\n"; order != want {
		t.Errorf("hooks ran in the order\n%s\nwant\n%s", order, want)
	}
	var created specs.State
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "createRuntime.json"))), &created); err != nil {
		t.Fatal(err)
	}
	if created.ID != id || created.Pid <= 0 || created.Bundle == "" || created.Status != specs.StateCreating {
		t.Errorf("createRuntime state %+v: want id %s, a pid, the bundle, status creating", created, id)
	}
	var stopped specs.State
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "poststop.json"))), &stopped); err != nil {
		t.Fatal(err)
	}
	if stopped.ID != id || stopped.Status != specs.StateStopped {
		t.Errorf("poststop state %+v: want id %s, status stopped", stopped, id)
	}
	if _, err := os.Stat(netnsPath(id)); !os.IsNotExist(err) {
		t.Errorf("%s left behind", netnsPath(id))
	}
}
