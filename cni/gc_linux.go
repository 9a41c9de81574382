package cni

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// GC removes leftovers of crashed runs with the given prefix ("" means the
// Manager's): every namespace whose state says the owner is gone (dead pid,
// or a pid whose start time differs, i.e. reused) gets CNI DEL with its saved
// arguments, then the namespace and the state are removed; so is a
// temporary state file whose writer is gone. It never touches a namespace
// whose owner is alive, so it is safe to run while other runs are live,
// nor one without a state of ours: a run writes its state before it
// makes its namespace and removes it after, so a namespace with our
// prefix and no state is someone else's (`ip netns add wasmrun-test` in
// the shared /run/netns). Best effort: it returns the names removed and the first
// error, and keeps going after errors.
func (m *Manager) GC(ctx context.Context, prefix string) (removed []string, err error) {
	if prefix == "" {
		prefix = m.cfg.Prefix
	}
	keep := func(e error) {
		if e != nil {
			m.cfg.Log("gc: %v", e)
			if err == nil {
				err = e
			}
		}
	}
	m.removeDeadTemps()
	names, e := m.stateNames(prefix)
	keep(e)
	for _, name := range names {
		adopted, e := m.adoptDead(name)
		if e != nil {
			keep(e)
		}
		if !adopted {
			continue
		}
		if e := m.teardown(ctx, name); e != nil {
			keep(e)
			continue
		}
		removed = append(removed, name)
	}
	return removed, err
}

// adoptDead checks, under the state lock, whether name's owner is gone
// and if so records this process as its owner, so that no concurrent GC
// (or create of the same id) works on it too. A state that cannot be
// parsed is adopted as well: teardown removes what it can without it.
func (m *Manager) adoptDead(name string) (bool, error) {
	unlock, err := m.lock()
	if err != nil {
		return false, err
	}
	defer unlock()
	st, err := m.readState(name)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil // torn down meanwhile
	case err != nil:
		m.cfg.Log("gc: %s: %v", name, err)
		return true, nil
	case st.ownerAlive():
		return false, nil
	}
	m.cfg.Log("gc: %s: owner pid %d is gone", name, st.OwnerPID)
	if err := st.setOwner(os.Getpid()); err != nil {
		return false, err
	}
	return true, m.writeState(st)
}

// pluginWait bounds how long a teardown waits for the CNI plugins that a
// dead creator left working on its namespace (an ADD takes 50-200 ms).
const pluginWait = 10 * time.Second

// waitPlugins waits until no CNI plugin (or a program one started, such as
// iptables) works on the namespace at path any more, and kills those that
// have not finished within pluginWait. A creator killed during its ADD or
// DEL leaves its plugins running, and a DEL racing them would leave what
// they add after it (a lease, masquerade rules), or delete what the next
// run of the name adds. They are found by their CNI_NETNS, which names
// this namespace alone, among this user's own processes: anyone can put
// that variable in a process's environment, and another user's process
// (a setuid one included) is never waited for or killed.
func waitPlugins(path string, log Logf) {
	needle := []byte("CNI_NETNS=" + path + "\x00")
	deadline := time.Now().Add(pluginWait)
	for logged := false; ; logged = true {
		procs := pluginProcesses(needle)
		if len(procs) == 0 {
			return
		}
		if !logged {
			pids := make([]int, len(procs))
			for i, p := range procs {
				pids[i] = p.pid
			}
			log("waiting for CNI plugins %v of a dead run, still working on %s", pids, path)
		}
		for _, p := range procs {
			if time.Now().After(deadline) {
				// Through the descriptor: the very process checked,
				// never one that took its pid since.
				unix.PidfdSendSignal(p.fd, unix.SIGKILL, nil, 0)
			}
			unix.Close(p.fd)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pluginProc is a process found by pluginProcesses, with a pidfd of it.
type pluginProc struct{ pid, fd int }

// pluginProcesses returns the processes of this user (real, effective,
// saved and file-system uid all ours) whose environment holds the
// variable assignment needle (ending in NUL), each with a pidfd opened
// on a match and the match checked again after it, so that the pidfd is
// of a process that matched (not one that took its pid since); the
// caller closes them.
func pluginProcesses(needle []byte) []pluginProc {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	uid := strconv.Itoa(os.Geteuid())
	matches := func(pid string) bool {
		env, err := os.ReadFile("/proc/" + pid + "/environ")
		return err == nil && (bytes.HasPrefix(env, needle) || bytes.Contains(env, append([]byte{0}, needle...))) && ownedBy(pid, uid)
	}
	var found []pluginProc
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() || !matches(p.Name()) {
			continue
		}
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue
		}
		if !matches(p.Name()) {
			unix.Close(fd)
			continue
		}
		found = append(found, pluginProc{pid, fd})
	}
	return found
}

// ownedBy reports whether all four uids of process pid (a /proc name)
// are uid.
func ownedBy(pid, uid string) bool {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if ids, ok := strings.CutPrefix(line, "Uid:"); ok {
			f := strings.Fields(ids)
			return len(f) == 4 && f[0] == uid && f[1] == uid && f[2] == uid && f[3] == uid
		}
	}
	return false
}
