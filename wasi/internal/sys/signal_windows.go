package sys

// Signals: a guest cannot subscribe to signals on Windows yet (the
// delivery pipe of signal_unix.go cannot be waited on with WSAPoll).
// Subscribe is ENOSYS; Ctrl-C ends the process as it does without a
// subscription.
type Signals struct{}

// SignalAllowed reports whether a guest may subscribe to sig: none may
// here.
func SignalAllowed(sig int) bool { return false }

// NewSignals returns a Signals with no subscription.
func NewSignals() *Signals { return &Signals{} }

// Subscribe is ENOSYS on Windows.
func (g *Signals) Subscribe(s *System, sig int) (int32, Errno) { return -1, ENOSYS }

// Unsubscribe is ENOSYS on Windows.
func (g *Signals) Unsubscribe(sig int) Errno { return ENOSYS }

// Subscribed returns no signal.
func (g *Signals) Subscribed() []int { return nil }

// Close does nothing: there is nothing to release.
func (g *Signals) Close() {}

// Held reports false: no signal is held.
func (g *Signals) Held(sig int) bool { return false }
