// Package server is the shim server, program wasmrun-shim: the
// long-running process that serves containerd's task API for the tasks
// of one shim (package task), started by the shim binary's start action
// (package manager). It also does the `delete` action of a task that left
// something to clean up, and -info, which the shim binary hands to it.
package server

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	bootapi "github.com/containerd/containerd/api/runtime/bootstrap/v1"
	"github.com/containerd/containerd/api/types"
	"github.com/containerd/containerd/v2/pkg/shim"
	"github.com/containerd/log"
	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/internal/version"
	"github.com/wasmrun/wasmrun/shim/manager"
	"github.com/wasmrun/wasmrun/shim/task"
)

// Main runs the server program. It has no reaper of its own: the task
// service waits for each container process with exec.Cmd.Wait, and a
// SIGCHLD reaper would steal those exit statuses (ECHILD).
func Main() {
	done := func() {}
	if manager.Action(os.Args[1:]) == "" {
		done = serveStart()
	}
	shim.RunShim(context.Background(), server{}, func(c *shim.Config) { c.NoReaper = true })
	done()
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", manager.RuntimeName, err)
	os.Exit(1)
}

type server struct{}

func (server) Name() string { return manager.RuntimeName }

// Start is the shim binary's (containerd-shim-wasmrun-v1 start), never the
// server program's.
func (server) Start(context.Context, *bootapi.BootstrapParams) (*bootapi.BootstrapResult, error) {
	return nil, fmt.Errorf("%s is the shim server: containerd starts the shim through containerd-shim-wasmrun-v1", manager.ServerProgram)
}

// serveStart is the server's side, before the shim library takes over the
// listener on manager.ListenFD. A server not started by a start action
// of ours (no manager.StartEnv) is left alone. The returned function removes the socket when
// the server is done: the library finds it through the bundle's address
// file, which containerd may have removed already (a start that failed
// after all).
func serveStart() (done func()) {
	address := os.Getenv(manager.StartEnv)
	os.Unsetenv(manager.StartEnv)
	if address == "" {
		return func() {}
	}
	ready, commit := os.NewFile(manager.ReadyFD, "ready"), os.NewFile(manager.CommitFD, "commit")
	l, err := shim.NewSocket(address)
	if err != nil {
		fail(fmt.Errorf("listen on %s: %w", address, err))
	}
	l.SetUnlinkOnClose(false)
	f, err := l.File()
	if err == nil {
		// Close-on-exec: a CNI plugin or hook the server runs must not
		// hold the socket (a dead server's socket would still answer).
		err = unix.Dup3(int(f.Fd()), manager.ListenFD, unix.O_CLOEXEC)
		f.Close()
	}
	l.Close()
	if err != nil {
		shim.RemoveSocket(address)
		fail(fmt.Errorf("listen on %s: %w", address, err))
	}
	ready.Write([]byte{1})
	ready.Close()
	var bound unix.Stat_t
	unix.Stat(strings.TrimPrefix(address, "unix://"), &bound)
	go func() {
		n, _ := commit.Read(make([]byte, 1))
		commit.Close()
		if n != 1 || !awaitTask() {
			// The socket first: the action's stderr, ours too, may be
			// a pipe nobody reads any more (a write can kill us).
			shim.RemoveSocket(address)
			fmt.Fprintf(os.Stderr, "%s: the start action of this server did not succeed: exiting\n", manager.RuntimeName)
			os.Exit(1)
		}
	}()
	return func() {
		// Ours still, not a socket a new server of the id has made.
		var now unix.Stat_t
		if unix.Stat(strings.TrimPrefix(address, "unix://"), &now) == nil && now.Ino == bound.Ino && now.Dev == bound.Dev {
			shim.RemoveSocket(address)
		}
	}
}

// awaitTask waits, once the start action said it succeeded, for the first
// Create, and reports whether it came. The action can still fail after
// its word (killed before its exit status reached containerd): containerd
// then removes the bundle, this server's working directory, without ever
// connecting.
func awaitTask() bool {
	dir, err := os.Getwd()
	if err != nil {
		return false
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return true // cannot watch: trust the word
	}
	w := os.NewFile(uintptr(fd), "inotify") // in the poller: Close ends a Read
	defer w.Close()
	// The bundle's directory, through its parent: a directory that is a
	// process's working directory stays in use after its removal, and
	// gets no IN_DELETE_SELF until it is released. containerd removes a
	// bundle by renaming it aside, then deleting it.
	parent, name := filepath.Split(dir)
	gone := make(chan struct{})
	if _, err := unix.InotifyAddWatch(fd, parent, unix.IN_DELETE|unix.IN_MOVED_FROM); err != nil {
		close(gone)
	} else if _, err := os.Stat(dir); err != nil {
		close(gone) // removed before the watch
	} else {
		go func() {
			buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.PathMax+1))
			for {
				n, err := w.Read(buf)
				if err != nil {
					return
				}
				for off := 0; off+unix.SizeofInotifyEvent <= n; {
					ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
					off += unix.SizeofInotifyEvent
					evName := strings.TrimRight(string(buf[off:min(off+int(ev.Len), n)]), "\x00")
					off += int(ev.Len)
					if evName == name {
						close(gone)
						return
					}
				}
			}
		}()
	}
	select {
	case <-task.Created():
		return true
	case <-gone:
		return false
	}
}

// Stop is the `delete` action: the server is gone (or never came up), so
// the task is cleaned up from what it left in its bundle (the working
// directory).
func (server) Stop(ctx context.Context, id string) (shim.StopStatus, error) {
	bundle, err := os.Getwd()
	if err != nil {
		return shim.StopStatus{}, err
	}
	manager.RemoveServerSocket(bundle, id)
	ex, err := task.Cleanup(ctx, bundle, id)
	if err != nil {
		log.G(ctx).WithError(err).Warn("cleanup of the task left something behind")
	}
	return shim.StopStatus{Pid: ex.Pid, ExitStatus: ex.Status, ExitedAt: ex.At}, nil
}

// Info describes the runtime for `-info`.
func (server) Info(ctx context.Context, optionsR io.Reader) (*types.RuntimeInfo, error) {
	return &types.RuntimeInfo{
		Name:    manager.RuntimeName,
		Version: &types.RuntimeVersion{Version: version.Version},
	}, nil
}
