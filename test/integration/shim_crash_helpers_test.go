package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/wasmrun/wasmrun/internal/testdaemon"
)

// What TestShimCrash looks at: the ctr commands it runs and waits for, the
// shim's and the container's processes, where a container's state lives,
// the daemon's log, and the leak check.

// ipamDir is host-local's lease directory of the bridge kind's network.
func (c *shimCrash) ipamDir() string { return filepath.Join("/run/wasmrun/ipam", c.bridge) }

// bridgeMarker is the file that says the bridge kind's bridge was made by
// wasmrun (and may be deleted by it).
func (c *shimCrash) bridgeMarker() string {
	return filepath.Join("/run/wasmrun/ipam", "bridge@"+c.bridge)
}

// ctr starts ctr ARGS and returns a channel that gets its result (code
// -1: it did not exit by itself). The channel has room for the result, so
// that a poller can take it and put it back.
func (c *shimCrash) ctr(args ...string) chan ctrResult {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	cmd := c.d.CtrCommand(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		c.t.Fatal(err)
	}
	done := make(chan ctrResult, 1)
	go func() {
		defer cancel()
		err := cmd.Wait()
		code := 0
		if err != nil {
			code = -1
			if ee, ok := unwrapExit(err); ok && ctx.Err() == nil {
				code = ee
			}
		}
		done <- ctrResult{code, stdout.String(), stderr.String()}
	}()
	return done
}

// ctrResult is how a ctr command ended.
type ctrResult struct {
	code           int
	stdout, stderr string
}

// wait waits for a ctr started by ctr, at most 30s (after a kill it must
// return by itself); ok is false when it did not.
func wait(done <-chan ctrResult) (r ctrResult, ok bool) {
	select {
	case r := <-done:
		return r, true
	case <-time.After(30 * time.Second):
		return ctrResult{code: -1}, false
	}
}

// shimProcess is a live process of a container's shim.
type shimProcess struct {
	pid    int
	action string // "start", "delete", "server", or "fork"
}

// shimProcesses returns the live processes of id's shim: those of the
// shim binary with id as an argument. A child it forked that has not
// exec'd yet still shows its parent's command line: it is a "fork" (the
// server about to start, or a container process), not a second action.
func (c *shimCrash) shimProcesses(id string) []shimProcess {
	cmdlines := map[int]string{}
	for _, pid := range processesOf(id) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil {
			cmdlines[pid] = string(b)
		}
	}
	var out []shimProcess
	for pid, cl := range cmdlines {
		args := strings.Split(strings.TrimSuffix(cl, "\x00"), "\x00")
		if filepath.Base(args[0]) != "containerd-shim-wasmrun-v1" {
			continue
		}
		action := "server"
		if a := args[len(args)-1]; a == "start" || a == "delete" {
			action = a
		}
		if ppid := parentOf(pid); ppid > 0 && cmdlines[ppid] == cl {
			action = "fork"
		}
		out = append(out, shimProcess{pid, action})
	}
	return out
}

// parentOf returns pid's parent (0: unknown).
func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// initProcessOf returns the pid of id's container process (the
// wasmrun-init program with id as an argument), or 0.
func initProcessOf(id string) int {
	for _, pid := range processesOf(id) {
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && filepath.Base(exe) == "wasmrun-init" {
			return pid
		}
	}
	return 0
}

// bundle is the task bundle containerd makes for id (and removes).
func (c *shimCrash) bundle(id string) string {
	return filepath.Join(c.d.Dir, "state", "io.containerd.runtime.v2.task", testdaemon.Namespace, id)
}

// logSince returns the daemon's log (the shims' included) from offset
// on, without the lines of plugin loading, snapshots, events and garbage
// collection: at most 80 lines.
func (c *shimCrash) logSince(offset int64) string {
	b, _ := os.ReadFile(c.d.Log)
	if offset > int64(len(b)) {
		offset = 0
	}
	var out []string
	for _, l := range strings.Split(string(b[offset:]), "\n") {
		noise := l == ""
		for _, n := range []string{"loading plugin", "garbage collected", "event forwarded", "event published", "snapshot", "registering ttrpc", "sd notification"} {
			noise = noise || strings.Contains(l, n)
		}
		if !noise {
			out = append(out, l)
		}
	}
	return strings.Join(out[max(0, len(out)-80):], "\n")
}

// remove deletes task and container id as a user does after a crash
// (ctr task rm -f, ctr container rm) until containerd no longer lists
// the container: it may still be cleaning up after a dead shim.
func (c *shimCrash) remove(id string) error {
	var last string
	if waitUntil(10*time.Second, 50*time.Millisecond, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, stderr, err := c.d.Ctr(ctx, "task", "rm", "-f", id); err != nil && !strings.Contains(stderr, "not found") {
			last = err.Error()
		}
		if _, stderr, err := c.d.Ctr(ctx, "container", "rm", id); err != nil && !strings.Contains(stderr, "not found") {
			last = err.Error()
		}
		ls, _, err := c.d.Ctr(ctx, "container", "ls", "-q")
		return err == nil && !containsLine(ls, id)
	}) {
		return nil
	}
	return fmt.Errorf("container %s still listed 10s after ctr task rm -f and ctr container rm (last error: %s)", id, last)
}

// containsLine reports whether one of the lines of s is line (spaces
// around it aside).
func containsLine(s, line string) bool {
	for _, l := range lines(s) {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}

// waitNoLeaks waits up to 10s (containerd finishes after a dead shim in
// the background; a shim exits after its last Delete) until nothing of
// id is left, and returns what is left then.
func (c *shimCrash) waitNoLeaks(id string, k crashKind) []string {
	var l []string
	waitUntil(10*time.Second, 20*time.Millisecond, func() bool {
		l = c.leaks(id, k)
		return len(l) == 0
	})
	return l
}

// leaks lists what of container id is left: what shimLeftovers finds
// (namespaces, mounts, cgroups, processes), the namespace's state file,
// the bundle (which holds the shim's state, its oci state dir and the
// rootfs mount point) and containerd's work dir, the shim's socket,
// containerd's task and container; for the bridge kind the veths on the
// bridge, the bridge itself (the last namespace takes it), IPAM leases and
// directory, the CNI result cache and iptables/nft rules that name id.
func (c *shimCrash) leaks(id string, k crashKind) []string {
	out := shimLeftovers(id)
	if st, _ := filepath.Glob(filepath.Join(c.state, "*"+id+"*")); len(st) > 0 {
		out = append(out, "netns state "+strings.Join(st, " "))
	}
	bundles := filepath.Dir(c.bundle(id))
	for _, dir := range []string{c.bundle(id), filepath.Join(bundles, "."+id), filepath.Join(c.d.Dir, "root", "io.containerd.runtime.v2.task", testdaemon.Namespace, id)} {
		if _, err := os.Stat(dir); err == nil {
			var files []string
			filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
				if err == nil && p != dir {
					files = append(files, strings.TrimPrefix(p, dir+"/"))
				}
				return nil
			})
			out = append(out, fmt.Sprintf("directory %s: %v", dir, files))
		}
	}
	if s := c.socket(id); s != "" {
		if _, err := os.Stat(s); err == nil {
			out = append(out, "shim socket "+s)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if ls, _, err := c.d.Ctr(ctx, "task", "ls", "-q"); err == nil && containsLine(ls, id) {
		out = append(out, "containerd task")
	}
	if ls, _, err := c.d.Ctr(ctx, "container", "ls", "-q"); err == nil && containsLine(ls, id) {
		out = append(out, "containerd container")
	}
	if !k.bridge {
		return out
	}
	if ents, err := os.ReadDir("/sys/class/net/" + c.bridge + "/brif"); err == nil {
		for _, e := range ents {
			out = append(out, "veth "+e.Name()+" on bridge "+c.bridge)
		}
		out = append(out, "bridge "+c.bridge)
	}
	if _, err := os.Stat(c.bridgeMarker()); err == nil {
		out = append(out, "bridge marker "+c.bridgeMarker())
	}
	if _, err := os.Stat(c.ipamDir()); err == nil {
		leases, _ := os.ReadDir(c.ipamDir())
		var names []string
		for _, l := range leases {
			names = append(names, l.Name())
		}
		out = append(out, fmt.Sprintf("IPAM directory %s: %v", c.ipamDir(), names))
	}
	if cache, _ := filepath.Glob("/run/wasmrun/cni-cache/*/*" + id + "*"); len(cache) > 0 {
		out = append(out, "CNI cache "+strings.Join(cache, " "))
	}
	// The bridge plugin's masquerade chain (its rules name id; the chain
	// itself does not): "CNI-" and the start of sha512(network, its id).
	chain := fmt.Sprintf("CNI-%x", sha512.Sum512([]byte(c.bridge+c.prefix+"-"+id)))[:4+24]
	for _, tool := range [][]string{{"iptables-save"}, {"nft", "list", "ruleset"}} {
		b, err := exec.Command(tool[0], tool[1:]...).Output()
		if err != nil {
			continue // not installed
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, id) || strings.Contains(line, chain) {
				out = append(out, tool[0]+": "+strings.TrimSpace(line))
			}
		}
	}
	return out
}

// socket is the path of the socket of id's shim (pkg/shim's
// CreateSocketAddress: under the daemon's socket dir, or the default
// /run/containerd/s that containerd 1.6 leaves it to the shim to use).
func (c *shimCrash) socket(id string) string {
	dir := "/run/containerd/s"
	if c.d.Bin.ConfigVersion >= 3 {
		dir = filepath.Join(c.d.Dir, "s")
	}
	return filepath.Join(dir, fmt.Sprintf("%x", sha256.Sum256([]byte(filepath.Join(c.d.Address, testdaemon.Namespace, id)))))
}
