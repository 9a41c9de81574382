package oci

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The freezer stops every process of a cgroup where it stands and lets
// it go on later (Pause, Resume): cgroup v1's freezer controller
// (freezer.state: THAWED, FREEZING, FROZEN) and cgroup v2's core
// cgroup.freeze file, whose effect cgroup.events reports ("frozen 1").
// The cgroups library's own Freeze returns on v2 once the request is
// written, before the processes are stopped, and on v1 waits forever for
// a process stuck in the kernel; these wait for the real state, for at
// most freezeTimeout, and a freeze that does not complete is undone, as
// runc does.

// freezeTimeout bounds a freeze or thaw (a variable for tests).
var freezeTimeout = 10 * time.Second

// freezer is one cgroup's freezer files.
type freezer interface {
	// request asks the kernel to freeze (true) or thaw the cgroup.
	request(frozen bool) error
	// frozen reports whether every process in it is frozen.
	frozen() (bool, error)
}

// setFrozen freezes or thaws through f and waits until the cgroup is so.
func setFrozen(f freezer, frozen bool) error {
	what := map[bool]string{true: "freeze", false: "thaw"}[frozen]
	deadline := time.Now().Add(freezeTimeout)
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		// Written again each round: v1 only retries a freeze that
		// stalled (FREEZING) when asked again.
		if err := f.request(frozen); err != nil {
			return fmt.Errorf("%s cgroup: %w", what, err)
		}
		now, err := f.frozen()
		if err != nil {
			return fmt.Errorf("%s cgroup: %w", what, err)
		}
		if now == frozen {
			return nil
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(delay)
	}
	if frozen {
		// Half frozen helps nobody: let them all run again.
		f.request(false)
		return fmt.Errorf("freeze cgroup: its processes did not all stop within %v (one may be stuck in the kernel); thawed again", freezeTimeout)
	}
	return fmt.Errorf("thaw cgroup: still frozen after %v", freezeTimeout)
}

// freezerV1 is a cgroup's directory in the v1 freezer hierarchy.
type freezerV1 struct{ dir string }

func (f freezerV1) request(frozen bool) error {
	state := "THAWED"
	if frozen {
		state = "FROZEN"
	}
	return os.WriteFile(filepath.Join(f.dir, "freezer.state"), []byte(state), 0)
}

func (f freezerV1) frozen() (bool, error) {
	b, err := os.ReadFile(filepath.Join(f.dir, "freezer.state"))
	if err != nil {
		return false, err
	}
	switch s := strings.TrimSpace(string(b)); s {
	case "FROZEN":
		return true, nil
	case "THAWED", "FREEZING":
		return false, nil
	default:
		return false, fmt.Errorf("freezer.state %q", s)
	}
}

// freezerV2 is a cgroup2 cgroup's directory.
type freezerV2 struct{ dir string }

func (f freezerV2) request(frozen bool) error {
	v := "0"
	if frozen {
		v = "1"
	}
	return os.WriteFile(filepath.Join(f.dir, "cgroup.freeze"), []byte(v), 0)
}

// frozen reads the "frozen" key of cgroup.events: cgroup.freeze is only
// what was asked for.
func (f freezerV2) frozen() (bool, error) {
	b, err := os.ReadFile(filepath.Join(f.dir, "cgroup.events"))
	if err != nil {
		return false, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "frozen "); ok {
			return strings.TrimSpace(v) == "1", nil
		}
	}
	return false, fmt.Errorf("%s has no frozen key (a kernel before 5.2 has no cgroup v2 freezer)", filepath.Join(f.dir, "cgroup.events"))
}
