package sys

import (
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
)

// Signals delivers host signals to a guest that asked for them.
//
// WASI preview1 has no signals: a signal to the process running a guest
// takes its default action, and for SIGINT and SIGTERM the process dies
// (130, 143) wherever the guest is. A guest that wants to shut down
// cleanly subscribes to a signal (Subscribe). From then on that signal no
// longer kills the process: os/signal catches it and one byte, the
// signal's number, is written to a pipe whose read end the guest holds as
// an ordinary descriptor. The guest waits for it as for any other
// descriptor (poll_oneoff fd_read, or its event loop's netpoll), reads
// the numbers and runs its handlers. Unsubscribe restores the default
// action.
//
// Like a pending standard POSIX signal, a signal that arrives again before
// the guest has read the last delivery of it is merged with it: a
// terminal's Ctrl-C reaches `wasmrun os` and its container process both,
// and the front end passes its copy on, which would otherwise run a
// handler twice. A guest that never reads gets nothing more than one byte
// per signal; one that closes its descriptor gets nothing at all (the
// subscription then only keeps the signal from killing it, like SIG_IGN).
//
// Only signals meant for a program to handle can be subscribed to: SIGHUP,
// SIGINT, SIGQUIT, SIGUSR1, SIGUSR2 and SIGTERM (preview1's numbering,
// which is Linux's for these). SIGKILL and SIGSTOP cannot be caught by
// anyone, and the signals the Go runtime itself relies on (SIGPIPE,
// SIGURG, SIGCHLD, SIGSEGV, ...) are not the guest's: a stopping app gets
// SIGKILL after its grace period whatever it subscribed to.
//
// The signal dispositions are the process's, so Signals is meant for a
// process that runs one guest (wasmrun run, the container process); two
// guests of one process that subscribe to the same signal both get it.
type Signals struct {
	mu sync.Mutex
	// read is the guest's end of the pipe as its fd table holds it (nil
	// before the first subscription), at guest descriptor fd.
	read *File
	fd   int32
	// write is the host's end (none when there is no pipe), non-blocking.
	write sigWriter
	// subs are the live subscriptions, by signal number.
	subs map[int]*subscription
	// unread are the signals written since the pipe was last seen empty.
	unread map[int]bool
	closed bool
	// atClose are the signals subscribed to when Close ended them.
	atClose []int
}

type subscription struct {
	ch   chan os.Signal
	done chan struct{}
}

// NewSignals returns a Signals with no subscription; it holds nothing
// until the first one.
func NewSignals() *Signals {
	return &Signals{write: noSigWriter, subs: map[int]*subscription{}, unread: map[int]bool{}}
}

// Subscribe makes sig (a preview1 signal number) a byte on the guest's
// signal descriptor instead of its default action, and returns that
// descriptor: the same one for every signal, made at the first
// subscription (or again after the guest closed it). Subscribing twice is
// the same as once. The descriptor is read-only and pollable; its reads
// block until a signal comes unless the guest makes it non-blocking.
// Errors: EINVAL for a signal that cannot be subscribed to (see Signals),
// EMFILE or ENFILE when no pipe can be made, EBADF after Close.
func (g *Signals) Subscribe(s *System, sig int) (int32, Errno) {
	if !SignalAllowed(sig) {
		return -1, EINVAL
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return -1, EBADF
	}
	if f, ok := s.FDs.Lookup(g.fd); !ok || f != g.read {
		// No pipe yet, or the guest closed (or renumbered) its end: a
		// new one. Deliveries to the old one stop.
		if errno := g.newPipe(s); errno != 0 {
			return -1, errno
		}
	}
	if g.subs[sig] == nil {
		sub := &subscription{ch: make(chan os.Signal, 1), done: make(chan struct{})}
		g.subs[sig] = sub
		signal.Notify(sub.ch, syscall.Signal(sig))
		go g.forward(sig, sub)
	}
	return g.fd, ESUCCESS
}

// newPipe replaces the pipe (if any) with a new one whose read end is in
// s's fd table. Called with g.mu held.
func (g *Signals) newPipe(s *System) Errno {
	read, write, errno := newSigPipe()
	if errno != 0 {
		return errno
	}
	g.write.close()
	read.Type = FiletypeUnknown
	read.RightsBase = RightFdRead | RightFdFdstatSetFlags | RightFdFilestatGet | RightPollFdReadwrite
	g.read = read
	g.fd = s.FDs.Insert(g.read)
	g.write = write
	clear(g.unread)
	return ESUCCESS
}

// forward writes each arrival of sig to the pipe until the subscription
// ends.
func (g *Signals) forward(sig int, sub *subscription) {
	for {
		select {
		case <-sub.done:
			return
		case <-sub.ch:
			g.deliver(sig)
		}
	}
}

// deliver writes sig's byte unless the guest has not read its last one
// yet. A full pipe or a guest that closed its end loses the signal.
func (g *Signals) deliver(sig int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.write == noSigWriter {
		return
	}
	if n, err := g.write.unread(); err == nil && n == 0 {
		clear(g.unread) // the guest has read everything
	}
	if g.unread[sig] {
		return // still pending: merged
	}
	if err := g.write.send(byte(sig)); err == nil {
		g.unread[sig] = true
	}
}

// Unsubscribe gives sig back its default action. Unsubscribing from a
// signal not subscribed to does nothing. Errors: EINVAL as Subscribe.
func (g *Signals) Unsubscribe(sig int) Errno {
	if !SignalAllowed(sig) {
		return EINVAL
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stop(sig)
	return ESUCCESS
}

// stop ends sig's subscription; called with g.mu held.
func (g *Signals) stop(sig int) {
	sub := g.subs[sig]
	if sub == nil {
		return
	}
	// After Stop no more signals reach ch; when no channel of the process
	// wants sig any more, os/signal restores its default action.
	signal.Stop(sub.ch)
	close(sub.done)
	delete(g.subs, sig)
}

// Subscribed returns the signals subscribed to, for tests and traces.
func (g *Signals) Subscribed() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	var sigs []int
	for sig := range g.subs {
		sigs = append(sigs, sig)
	}
	return sigs
}

// Close ends every subscription (the signals take their default action
// again) and closes the host's end of the pipe; the guest's end is its fd
// table's to close. A second Close does nothing. Nil-safe.
func (g *Signals) Close() {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for sig := range g.subs {
		g.atClose = append(g.atClose, sig)
		g.stop(sig)
	}
	g.write.close()
	g.write = noSigWriter
	g.closed = true
}

// Held reports whether the guest subscribed to sig and still does, or
// did when its host closed: a guest that ended (its handler's exit) has
// dealt with the signal, which a supervisor may ask about just after.
func (g *Signals) Held(sig int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.subs[sig] != nil || slices.Contains(g.atClose, sig)
}
