package native

import (
	"bytes"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// The shim is the subreaper of what runc starts, so it also inherits the
// orphans of a native container that has no pid namespace of its own (a
// host-pid pod): a process whose parent died. Left unreaped they would
// stay zombies until the shim exits. runc makes the container's process,
// and each exec process, the leader of a session of its own, which their
// descendants keep; the shim reaps the zombie children in those sessions,
// and nothing else (the processes it started itself are waited for by
// whoever started them; a leader, by Container.wait and Process.wait).
//
// Zombies keep their session, not their cgroup or namespaces, in /proc.

var orphans = struct {
	sync.Mutex
	sessions map[int]int // session leader pid -> count of holders
	once     sync.Once
}{sessions: map[int]int{}}

// watchSession makes the shim reap the orphans of session sid (a native
// container's or exec process's), until forgetSession.
func watchSession(sid int) {
	orphans.once.Do(func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, unix.SIGCHLD)
		go func() {
			for range ch {
				reapOrphans()
			}
		}()
	})
	orphans.Lock()
	orphans.sessions[sid]++
	orphans.Unlock()
	reapOrphans() // any that died before
}

func forgetSession(sid int) {
	orphans.Lock()
	defer orphans.Unlock()
	if orphans.sessions[sid]--; orphans.sessions[sid] <= 0 {
		delete(orphans.sessions, sid)
	}
}

// reapOrphans reaps the zombie children of this process that are in a
// watched session and do not lead it.
func reapOrphans() {
	orphans.Lock()
	defer orphans.Unlock()
	if len(orphans.sessions) == 0 {
		return
	}
	for _, pid := range children() {
		if orphans.sessions[pid] > 0 {
			continue // a leader: its own waiter reaps it
		}
		state, sid, ok := statOf(pid)
		if ok && state == 'Z' && orphans.sessions[sid] > 0 {
			var ws unix.WaitStatus
			unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		}
	}
}

// children lists the children of every thread of this process.
func children() []int {
	files, _ := filepath.Glob("/proc/self/task/*/children")
	var out []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, s := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(s); err == nil {
				out = append(out, pid)
			}
		}
	}
	return out
}

// statOf returns the state and session of process pid.
func statOf(pid int) (state byte, sid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// pid (comm) state ppid pgrp session ...; comm may hold anything.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 4 || len(f[0]) != 1 {
		return 0, 0, false
	}
	sid, err = strconv.Atoi(f[3])
	return f[0][0], sid, err == nil
}
