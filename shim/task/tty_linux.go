package task

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/containerd/console"
	"github.com/containerd/errdefs"
	"github.com/containerd/fifo"
	"golang.org/x/sys/unix"
)

// A terminal task or exec process (ctr run -t, ctr task exec -t, crictl
// exec -it) gets a pty the shim opens itself: the slave is the container
// process's stdin, stdout, stderr and controlling terminal (so the guest's
// fd_fdstat reports a character device, as the host descriptor is one),
// and the shim copies between the master and the stdin and stdout FIFOs
// (containerd sends no stderr with a terminal: it is the same stream).
// ResizePty sets the window size on the master.
//
//	stdin FIFO  --copy-->  master  <-pty->  slave = fds 0, 1, 2 of the guest
//	stdout FIFO <--copy--  master
//
// When the guest exits, the last slave descriptor goes and reading the
// master fails with EIO once what the guest wrote has been read: the copy
// ends there and closes the stdout FIFO (the client sees EOF).

// openProcessStdio opens a process's streams: a pty when terminal,
// otherwise as openStdio.
func openProcessStdio(id, ns string, terminal bool, stdin, stdout, stderr string) (*stdio, error) {
	if terminal {
		return openTerminal(stdin, stdout)
	}
	return openStdio(id, ns, stdin, stdout, stderr)
}

// openTaskStdio is openProcessStdio for a process of a wasm or native
// container: a native process's terminal is runc's pty, attached once
// runc sends its master (attachConsole); until then it has no streams.
func openTaskStdio(id, ns string, native, terminal bool, stdin, stdout, stderr string) (*stdio, error) {
	if native && terminal {
		return &stdio{}, nil
	}
	return openProcessStdio(id, ns, terminal, stdin, stdout, stderr)
}

// attachConsole makes c, the master of the pty runc opened for a native
// process (nil: it has no terminal), the process's terminal in s.
func attachConsole(s *stdio, c console.Console, stdin, stdout string) error {
	if c == nil {
		return nil
	}
	master, err := pollable(c)
	if err != nil {
		return err
	}
	return s.attachTerminal(master, stdin, stdout)
}

// outputDrainTimeout bounds how long the exit of a terminal process
// waits for its last output to be copied (the stdout FIFO's reader may be
// gone, and its buffer full).
const outputDrainTimeout = 5 * time.Second

// openTerminal sets up the streams of a terminal process: a new pty, the
// stdin FIFO copied to its master, its master copied to the stdout FIFO.
func openTerminal(stdin, stdout string) (s *stdio, err error) {
	s = &stdio{}
	opened := s // s is nil once a failure returns
	defer func() {
		if err != nil {
			opened.closeChildEnds()
			opened.close()
		}
	}()
	c, slavePath, err := console.NewPty()
	if err != nil {
		return nil, fmt.Errorf("open a pty: %w", err)
	}
	master, err := pollable(c)
	if err != nil {
		return nil, err
	}
	slave, err := os.OpenFile(slavePath, os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		master.Close()
		return nil, fmt.Errorf("open pty %s: %w", slavePath, err)
	}
	s.Stdin, s.Stdout, s.Stderr = slave, slave, slave
	if err := s.attachTerminal(master, stdin, stdout); err != nil {
		return nil, err
	}
	return s, nil
}

// attachTerminal makes master the process's terminal: the stdin FIFO is
// copied to it, it is copied to the stdout FIFO. The stdio owns master
// from then on, even when it fails. A native container's master comes
// from runc, which opened the pty in the container.
func (s *stdio) attachTerminal(master *os.File, stdin, stdout string) error {
	s.console = master
	var out *os.File
	if stdout != "" {
		if u := parseURI(stdout); u != nil {
			return fmt.Errorf("a terminal's output %s: only a FIFO is supported: %w", stdout, errdefs.ErrNotImplemented)
		}
		var err error
		if out, err = openWriteFifo(stdout); err != nil {
			return err
		}
	}
	if stdin != "" {
		f, err := fifo.OpenFifo(context.Background(), stdin, unix.O_RDONLY|unix.O_NONBLOCK, 0)
		if err != nil {
			if out != nil {
				out.Close()
			}
			return fmt.Errorf("open stdin %s: %w", stdin, err)
		}
		s.stdinFifo = f
		go func() {
			io.Copy(master, f)
			s.CloseStdin()
		}()
	}
	s.consoleDone = make(chan struct{})
	go func() {
		defer close(s.consoleDone)
		w := io.Discard
		if out != nil {
			defer out.Close()
			w = out
		}
		// Ends with EIO once the guest's side is closed and drained.
		io.Copy(w, master)
	}()
	return nil
}

// pollable returns a pty master (console.NewPty's: /dev/ptmx, unlocked;
// or one runc sent) as a non-blocking *os.File in Go's poller, so that
// closing it ends a copy blocked reading it (console's master is left in
// blocking mode by its Fd calls), and closes c.
func pollable(c console.Console) (*os.File, error) {
	defer c.Close()
	fd, err := unix.FcntlInt(c.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open a pty: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("open a pty: %w", err)
	}
	return os.NewFile(uintptr(fd), "ptmx"), nil
}

// closeConsole waits for the guest's last output to be copied (bounded)
// and closes the master; a terminal's part of close.
func (s *stdio) closeConsole() {
	if s.console == nil {
		return
	}
	if s.consoleDone != nil {
		select {
		case <-s.consoleDone:
		case <-time.After(outputDrainTimeout):
		}
	}
	s.console.Close()
}

// resize sets the window size of the process's terminal.
func (s *stdio) resize(width, height uint32) error {
	if s == nil || s.console == nil {
		return errNoTerminal
	}
	rc, err := s.console.SyscallConn()
	if err != nil {
		return err
	}
	ws := &unix.Winsize{Col: uint16(width), Row: uint16(height)}
	if cerr := rc.Control(func(fd uintptr) { err = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, ws) }); cerr != nil {
		return cerr
	}
	return err
}

var errNoTerminal = errors.New("the process has no terminal (it was not created with one)")
