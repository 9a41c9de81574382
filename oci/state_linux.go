package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/wasmrun/wasmrun/cni"
	"github.com/wasmrun/wasmrun/internal/atomicfile"
	"github.com/wasmrun/wasmrun/internal/liveness"
)

// stateFile is what a fresh process needs to report on and delete a
// container: it lives in <root>/<id>/state.json.
type stateFile struct {
	ID      string    `json:"id"`
	Bundle  string    `json:"bundle"`
	Pid     int       `json:"pid"`
	PidTime uint64    `json:"pid_start_time"` // /proc/<pid>/stat field 22, defeats pid reuse
	Created time.Time `json:"created"`
	// Owner is the process that created the container and tears it down
	// (the CLI or the shim); GC leaves a container alone while it lives.
	Owner     int    `json:"owner"`
	OwnerTime uint64 `json:"owner_start_time"`
	// Net is the container's network: its mode, the namespace the
	// process lives in, and what Delete removes.
	Net NetworkRecord `json:"network"`
	// Cgroup is the cgroup the process was put in ("" for none).
	Cgroup string `json:"cgroup,omitempty"`
	// Module is the module's host path, for listings.
	Module      string            `json:"module"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Hooks are the spec's OCI hooks, run at their phases (hooks_linux.go).
	Hooks *specs.Hooks `json:"hooks,omitempty"`
	// Extra is free-form data of the front end (forwards, name, ...).
	Extra json.RawMessage `json:"extra,omitempty"`
}

func (r *Runtime) dir(id string) string { return filepath.Join(r.Root, id) }

func (r *Runtime) writeState(st *stateFile) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(r.dir(st.ID), "state.json"), b, 0o600, "")
}

func (r *Runtime) readState(id string) (*stateFile, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(r.dir(id), "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("container %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read state of %s: %w", id, err)
	}
	var st stateFile
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("read state of %s: %w", id, err)
	}
	return &st, nil
}

// ErrNotFound is returned for a container id with no state.
var ErrNotFound = errors.New("not found")

// pidStartTime is the start time of pid (liveness), 0 when it has none.
func pidStartTime(pid int) uint64 {
	t, _ := liveness.StartTime(pid)
	return t
}

// alive reports whether the container process recorded in st still runs.
func (st *stateFile) alive() bool {
	return liveness.Alive(st.Pid, st.PidTime)
}

// ownerAlive reports whether the process that created the container lives.
func (st *stateFile) ownerAlive() bool {
	return liveness.Alive(st.Owner, st.OwnerTime)
}

// status derives the OCI status from the process and the exec FIFO.
func (r *Runtime) status(st *stateFile) specs.ContainerState {
	if st.Pid == 0 && st.ownerAlive() {
		return specs.StateCreating
	}
	if !st.alive() {
		return specs.StateStopped
	}
	if _, err := os.Stat(filepath.Join(r.dir(st.ID), execFifo)); err == nil {
		return specs.StateCreated
	}
	return specs.StateRunning
}

// creatingPrefix starts the name of a state directory being made (see
// createDir); List skips it, GC removes it once its creator is gone.
const creatingPrefix = ".creating-"

// createDir makes container st.ID's state directory with its state.json
// in one step: the directory is filled aside and renamed into place, which
// fails if the id is taken.
func (r *Runtime) createDir(st *stateFile) error {
	if err := os.MkdirAll(r.Root, 0o711); err != nil {
		return fmt.Errorf("create state root: %w", err)
	}
	tmp, err := os.MkdirTemp(r.Root, creatingName(st))
	if err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err == nil {
		err = os.WriteFile(filepath.Join(tmp, "state.json"), b, 0o600)
	}
	if err == nil {
		err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, r.dir(st.ID), unix.RENAME_NOREPLACE)
		if errors.Is(err, unix.EEXIST) {
			os.RemoveAll(tmp)
			return fmt.Errorf("container %s already exists", st.ID)
		}
	}
	if err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("create state dir: %w", err)
	}
	return nil
}

// creatingName is the start of the name of st's state directory while it
// is made: creatingPrefix, the id, the creator's pid and start time (so
// that a directory its creator died making before its state.json was in
// it is known to be abandoned), and then the random part.
func creatingName(st *stateFile) string {
	return fmt.Sprintf("%s%s-%d.%d-", creatingPrefix, st.ID, st.Owner, st.OwnerTime)
}

// creatingOwner parses the creator out of a creatingName directory name
// (ok false for a name of another form).
func creatingOwner(name string) (st stateFile, ok bool) {
	rest, ok := strings.CutPrefix(name, creatingPrefix)
	i := strings.LastIndexByte(rest, '-') // before the random part
	if !ok || i < 0 {
		return st, false
	}
	rest = rest[:i]
	if i = strings.LastIndexByte(rest, '-'); i < 0 {
		return st, false
	}
	pid, start, _ := strings.Cut(rest[i+1:], ".")
	var err1, err2 error
	st.Owner, err1 = strconv.Atoi(pid)
	st.OwnerTime, err2 = strconv.ParseUint(start, 10, 64)
	return st, err1 == nil && err2 == nil && st.Owner > 0
}

// removeAbandoned removes the state directories that processes died
// making or removing: one being made whose creator is gone (named in its
// state.json or its name; without either, once older than a minute), and a
// container's without its state.json, which only a Delete that was
// killed halfway through leaves (a container directory appears with its
// state.json, which is replaced by renames, never removed before the end),
// and which would otherwise hide from List and block the id.
func (r *Runtime) removeAbandoned() {
	ents, _ := os.ReadDir(r.Root)
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		p := filepath.Join(r.Root, e.Name())
		if !strings.HasPrefix(e.Name(), creatingPrefix) {
			if _, err := os.Lstat(filepath.Join(p, "state.json")); errors.Is(err, os.ErrNotExist) {
				os.RemoveAll(p)
			}
			continue
		}
		var st stateFile
		b, err := os.ReadFile(filepath.Join(p, "state.json"))
		if err != nil || json.Unmarshal(b, &st) != nil {
			var ok bool
			if st, ok = creatingOwner(e.Name()); !ok {
				// Of an older wasmrun: only its age tells.
				if fi, err := e.Info(); err != nil || time.Since(fi.ModTime()) < time.Minute {
					continue
				}
			}
		}
		if st.Owner > 0 && st.ownerAlive() {
			continue
		}
		os.RemoveAll(p)
	}
}

// PortsOf returns the ports of container id, when its network is
// simulated and its process runs (nil otherwise).
func (r *Runtime) PortsOf(id string) ([]VirtualPort, error) {
	rec, err := r.NetworkOf(id)
	if err != nil {
		return nil, err
	}
	return cni.ReadPorts(rec)
}

// NetworkOf returns the network recorded for container id.
func (r *Runtime) NetworkOf(id string) (NetworkRecord, error) {
	st, err := r.readState(id)
	if err != nil {
		return NetworkRecord{}, err
	}
	return st.Net, nil
}
