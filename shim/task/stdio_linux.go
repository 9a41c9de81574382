package task

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/containerd/fifo"
	"golang.org/x/sys/unix"
)

// stdio is a task's standard streams. The container process gets real
// file descriptors: the FIFOs themselves for stdout and stderr (no copy
// through the shim), a pipe fed from the stdin FIFO (so CloseIO can give
// the guest EOF), pipes to a logging binary for binary:// URIs, a file for
// file:// URIs.
type stdio struct {
	// Stdin, Stdout, Stderr are the container process's ends (nil for a
	// stream not given: oci makes it /dev/null); the shim closes them
	// once the process has them.
	Stdin, Stdout, Stderr *os.File

	stdinOnce  sync.Once
	stdinW     *os.File      // shim side of the stdin pipe
	stdinFifo  io.ReadCloser // the stdin FIFO being copied
	logger     *exec.Cmd     // binary:// logging process
	loggerDone chan struct{}

	console     *os.File      // a terminal's pty master (tty_linux.go)
	consoleDone chan struct{} // closed once its output copy has ended
}

// openStdio sets up the streams of task id (in containerd namespace ns)
// from the paths or URIs of the create request.
func openStdio(id, ns, stdin, stdout, stderr string) (s *stdio, err error) {
	s = &stdio{}
	opened := s // s is nil once a failure returns
	defer func() {
		if err != nil {
			opened.closeChildEnds()
			opened.close()
		}
	}()
	if stdin != "" {
		f, err := fifo.OpenFifo(context.Background(), stdin, unix.O_RDONLY|unix.O_NONBLOCK, 0)
		if err != nil {
			return nil, fmt.Errorf("open stdin %s: %w", stdin, err)
		}
		r, w, err := os.Pipe()
		if err != nil {
			f.Close()
			return nil, err
		}
		s.Stdin, s.stdinW, s.stdinFifo = r, w, f
		go func() {
			io.Copy(w, f)
			s.CloseStdin()
		}()
	}

	outURI, errURI, err := parseURI(stdout), parseURI(stderr), nil
	if outURI != nil && outURI.Scheme == "binary" || errURI != nil && errURI.Scheme == "binary" {
		if err := s.startLogger(id, ns, outURI, errURI); err != nil {
			return nil, err
		}
		return s, nil
	}
	if s.Stdout, err = openOutput(stdout, outURI); err != nil {
		return nil, err
	}
	if s.Stderr, err = openOutput(stderr, errURI); err != nil {
		return nil, err
	}
	return s, nil
}

// parseURI returns the URI of a binary:// or file:// stream, nil for a
// plain FIFO path or no stream.
func parseURI(p string) *url.URL {
	if p == "" {
		return nil
	}
	u, err := url.Parse(p)
	if err != nil || (u.Scheme != "binary" && u.Scheme != "file") {
		return nil
	}
	return u
}

func openOutput(p string, u *url.URL) (*os.File, error) {
	switch {
	case p == "":
		return nil, nil
	case u != nil && u.Scheme == "file":
		if err := os.MkdirAll(filepath.Dir(u.Path), 0o755); err != nil {
			return nil, fmt.Errorf("open output %s: %w", p, err)
		}
		f, err := os.OpenFile(u.Path, os.O_WRONLY|os.O_CREATE|os.O_APPEND|unix.O_CLOEXEC, 0o640)
		if err != nil {
			return nil, fmt.Errorf("open output %s: %w", p, err)
		}
		return f, nil
	}
	return openWriteFifo(p)
}

// openWriteFifo opens an output FIFO for the guest. It opens it
// read-write, as the runc shim keeps a reader of its own: open(2) never
// blocks, and a guest never dies of EPIPE/SIGPIPE when the reader goes
// away (ctr run -d exits, containerd restarts and reopens CRI's FIFOs);
// its writes wait in the FIFO instead. The reader still sees EOF when the
// guest exits, since the shim closes its copy once the guest has it.
func openWriteFifo(p string) (*os.File, error) {
	fd, err := unix.Open(p, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open output %s: %w", p, err)
	}
	return os.NewFile(uintptr(fd), p), nil
}

// startLogger starts the logging binary of a binary:// URI with the read
// ends of the stdout and stderr pipes on fds 3 and 4 and a readiness pipe
// on fd 5 (containerd's protocol), and waits until it is ready.
func (s *stdio) startLogger(id, ns string, outURI, errURI *url.URL) error {
	u := outURI
	if u == nil || u.Scheme != "binary" {
		u = errURI
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer outR.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		outW.Close()
		return err
	}
	defer errR.Close()
	s.Stdout, s.Stderr = outW, errW
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer readyR.Close()

	var args []string
	for k, vs := range u.Query() {
		args = append(args, k)
		if len(vs) > 0 {
			args = append(args, vs[0])
		}
	}
	cmd := exec.Command(u.Path, args...)
	cmd.Env = []string{"CONTAINER_ID=" + id, "CONTAINER_NAMESPACE=" + ns}
	cmd.ExtraFiles = []*os.File{outR, errR, readyW}
	err = cmd.Start()
	readyW.Close()
	if err != nil {
		return fmt.Errorf("start logging binary %s: %w", u.Path, err)
	}
	s.logger, s.loggerDone = cmd, make(chan struct{})
	go func() {
		cmd.Wait()
		close(s.loggerDone)
	}()
	var b [1]byte
	if _, err := readyR.Read(b[:]); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("wait for logging binary %s: %w", u.Path, err)
	}
	return nil
}

// closeChildEnds closes the shim's copies of the container's descriptors
// (after the container process has started, or on failure); a terminal's
// three are one.
func (s *stdio) closeChildEnds() {
	for i, f := range []*os.File{s.Stdin, s.Stdout, s.Stderr} {
		if f != nil && (i == 0 || f != s.Stdin) {
			f.Close()
		}
	}
}

// CloseStdin gives the guest EOF on stdin (CloseIO, or the stdin FIFO's
// writer closed it).
func (s *stdio) CloseStdin() {
	s.stdinOnce.Do(func() {
		if s.stdinW != nil {
			s.stdinW.Close()
		}
		if s.stdinFifo != nil {
			s.stdinFifo.Close()
		}
	})
}

// close releases everything once the container process has exited: the
// logging binary gets EOF and a moment to flush, then is killed.
func (s *stdio) close() {
	s.CloseStdin()
	s.closeConsole()
	if s.logger != nil && s.logger.Process != nil {
		select {
		case <-s.loggerDone:
		case <-time.After(5 * time.Second):
			s.logger.Process.Kill()
			<-s.loggerDone
		}
	}
}
