package procnet

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// joinCPUCgroup moves the calling thread into the cpu cgroup of process
// pid (cgroup v1, where a thread may be in a cgroup of its own; v2 keeps
// the threads of a process together). Nothing is done when it is the
// thread's own already.
func joinCPUCgroup(pid int) error {
	theirs, err := cpuCgroup(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return err
	}
	tid := unix.Gettid()
	ours, err := cpuCgroup(fmt.Sprintf("/proc/self/task/%d/cgroup", tid))
	if err != nil {
		return err
	}
	if theirs == ours {
		return nil
	}
	dir, err := cpuMount(theirs)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "tasks"), []byte(strconv.Itoa(tid)), 0)
}

// cpuCgroup is the path of the v1 cpu cgroup in a /proc/.../cgroup file.
func cpuCgroup(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) == 3 && slices.Contains(strings.Split(f[1], ","), "cpu") {
			return f[2], nil
		}
	}
	return "", errors.New("no cgroup v1 cpu controller (with cgroup v2 the threads of a process share its cgroup)")
}

// cpuMount is the directory of cpu cgroup path in the cpu hierarchy's
// mount.
func cpuMount(path string) (string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT POINT OPTS [TAGS...] - TYPE SOURCE SUPER
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 || g[0] != "cgroup" || !slices.Contains(strings.Split(g[2], ","), "cpu") {
			continue
		}
		root, point := f[3], f[4]
		if rel, ok := strings.CutPrefix(path, root); ok && (root == "/" || rel == "" || strings.HasPrefix(rel, "/")) {
			return filepath.Join(point, rel), nil
		}
	}
	return "", fmt.Errorf("cpu cgroup %s: not in a mounted cpu hierarchy", path)
}
