package cni

import (
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/wasmrun/wasmrun/internal/atomicfile"
	"github.com/wasmrun/wasmrun/internal/liveness"
	"golang.org/x/sys/unix"
)

// stateVersion is bumped when the state file changes incompatibly.
const stateVersion = 1

// state is what we save for every namespace we create (<StateDir>/<name>.json),
// written before the namespace exists and removed after it is gone, so that
// teardown and GC in any process can DEL with exactly the ADD arguments.
type state struct {
	Version    int    `json:"version"`
	Name       string `json:"name"`
	ID         string `json:"id"`
	Path       string `json:"path"`
	OwnerPID   int    `json:"ownerPid"`
	OwnerStart uint64 `json:"ownerStart"` // field 22 of /proc/<pid>/stat

	// CNI: present once ADD is about to run. NetConfList is the exact
	// network list given to ADD.
	NetConfList json.RawMessage `json:"netConfList,omitempty"`
	RuntimeConf *runtimeConf    `json:"runtimeConf,omitempty"`
	PluginPath  []string        `json:"pluginPath,omitempty"`
	CacheDir    string          `json:"cacheDir,omitempty"`
	Forwards    []Forward       `json:"forwards,omitempty"`

	// ADD results, for Open.
	IfName  string         `json:"ifName,omitempty"`
	Addrs   []netip.Prefix `json:"addrs,omitempty"`
	Gateway netip.Addr     `json:"gateway,omitzero"`
	Bridge  string         `json:"bridge,omitempty"`
	// HostVeth is the host side of the veth (an isolated bridge port).
	HostVeth string `json:"hostVeth,omitempty"`
}

// runtimeConf is the part of libcni.RuntimeConf we use.
type runtimeConf struct {
	ContainerID  string        `json:"containerId"`
	NetNS        string        `json:"netns"`
	IfName       string        `json:"ifName"`
	PortMappings []portMapping `json:"portMappings,omitempty"`
}

// portMapping is portmap's runtimeConfig.portMappings entry.
type portMapping struct {
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

func (st *state) namespace(m *Manager) *Namespace {
	return &Namespace{
		Mode: ModeNew, ID: st.ID, Name: st.Name, Path: st.Path,
		IfName: st.IfName, Addrs: st.Addrs, Gateway: st.Gateway, Bridge: st.Bridge,
		Forwards: st.Forwards, OwnerPID: st.OwnerPID, m: m,
	}
}

func (st *state) setOwner(pid int) error {
	start, err := liveness.StartTime(pid)
	if err != nil {
		return err
	}
	st.OwnerPID, st.OwnerStart = pid, start
	return nil
}

// ownerAlive reports whether the recorded owner still runs: the pid exists
// and has the recorded start time (so a reused pid does not count).
func (st *state) ownerAlive() bool {
	start, err := liveness.StartTime(st.OwnerPID)
	return err == nil && (st.OwnerStart == 0 || start == st.OwnerStart)
}

func (m *Manager) readState(name string) (*state, error) {
	b, err := os.ReadFile(m.statePath(name))
	if err != nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("parse state %s: %w", m.statePath(name), err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("parse state %s: version %d, want %d", m.statePath(name), st.Version, stateVersion)
	}
	return &st, nil
}

// writeState replaces the state file atomically (temp file + rename), so a
// concurrent reader sees the old or the new state, never a partial one.
func (m *Manager) writeState(st *state) error {
	st.Version = stateVersion
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	if err := os.MkdirAll(m.cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	return atomicfile.Write(m.statePath(st.Name), append(b, '\n'), 0o600, tempStatePattern(st.Name))
}

// tempStatePattern is the os.CreateTemp pattern of a state file being
// written by this process: its name carries the writer (pid and start
// time), so that GC knows one whose writer was killed before the rename.
func tempStatePattern(name string) string {
	start, _ := liveness.StartTime(os.Getpid())
	return fmt.Sprintf(".%s.%d-%d.*.tmp", name, os.Getpid(), start)
}

// tempStateWriter parses the writer out of a temporary state file name
// (ok false for a name of another form).
func tempStateWriter(file string) (pid int, start uint64, ok bool) {
	rest, ok := strings.CutSuffix(file, ".tmp")
	i := strings.LastIndexByte(rest, '.') // before the random part
	if !ok || !strings.HasPrefix(rest, ".") || i < 0 {
		return 0, 0, false
	}
	rest = rest[:i]
	if i = strings.LastIndexByte(rest, '.'); i < 0 {
		return 0, 0, false
	}
	p, s, _ := strings.Cut(rest[i+1:], "-")
	pid, err1 := strconv.Atoi(p)
	start, err2 := strconv.ParseUint(s, 10, 64)
	return pid, start, err1 == nil && err2 == nil && pid > 0
}

// removeDeadTemps removes the temporary state files whose writer is gone
// (killed between writing and renaming one).
func (m *Manager) removeDeadTemps() {
	ents, _ := os.ReadDir(m.cfg.StateDir)
	for _, e := range ents {
		pid, start, ok := tempStateWriter(e.Name())
		if !ok {
			continue
		}
		if liveness.Alive(pid, start) {
			continue // being written
		}
		os.Remove(filepath.Join(m.cfg.StateDir, e.Name()))
	}
}

func (m *Manager) removeState(name string) error {
	if err := os.Remove(m.statePath(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove state: %w", err)
	}
	return nil
}

// stateNames lists the namespace names with a state file and prefix ("" for
// every one).
func (m *Manager) stateNames(prefix string) ([]string, error) {
	ents, err := os.ReadDir(m.cfg.StateDir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list state dir: %w", err)
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, ".json") || strings.HasPrefix(n, ".") {
			continue
		}
		n = strings.TrimSuffix(n, ".json")
		if prefix == "" || strings.HasPrefix(n, prefix+"-") {
			names = append(names, n)
		}
	}
	return names, nil
}

// liveForwards returns the forwards of other namespaces in the state dir
// whose owner is alive (any prefix), keyed "port/proto".
func (m *Manager) liveForwards(except string) map[string]string {
	out := map[string]string{}
	for st, err := range m.otherStates(except) {
		if err != nil || !st.ownerAlive() {
			continue
		}
		for _, f := range st.Forwards {
			out[strconv.Itoa(int(f.HostPort))+"/"+f.Proto()] = st.Name
		}
	}
	return out
}

// otherStates reads every state in the state dir but except's; one that
// cannot be read comes with its error (and a nil state).
func (m *Manager) otherStates(except string) iter.Seq2[*state, error] {
	return func(yield func(*state, error) bool) {
		names, _ := m.stateNames("")
		for _, n := range names {
			if n == except {
				continue
			}
			if !yield(m.readState(n)) {
				return
			}
		}
	}
}

// lock takes the exclusive lock of the state dir (flock on
// <StateDir>/.lock, shared by every process using the dir). Hold it only
// for quick checks-and-writes of state.
func (m *Manager) lock() (unlock func(), err error) {
	if err := os.MkdirAll(m.cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("create state dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(m.cfg.StateDir, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock state dir: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock state dir: %w", err)
	}
	return func() { f.Close() }, nil
}
