package cni

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ForwarderOptions tune a Forwarder.
type ForwarderOptions struct {
	// UDPIdleTimeout ends a UDP session (one host-side client address)
	// after this long without traffic either way. Default 60s.
	UDPIdleTimeout time.Duration
	// Log receives one line per listener and per failed connection. nil
	// logs nothing.
	Log Logf
	// Dial, if set, opens the inside connection instead of switching a
	// thread into nsPath (which may then be ""). Rootless runs need it:
	// an unprivileged process cannot setns into a namespace owned by a
	// child user namespace, so a process inside dials and passes the
	// socket back (see procnet.DialSocketPair, ServeDial, FDDialer).
	Dial func(network, address string) (net.Conn, error)
}

// DefaultUDPIdleTimeout is ForwarderOptions.UDPIdleTimeout's default.
const DefaultUDPIdleTimeout = 60 * time.Second

// Forwarder is a userspace port forwarder into a network namespace: it
// listens in the host namespace, and for every TCP connection (or UDP
// client address) it opens a socket inside the namespace connected to
// 127.0.0.1:GuestPort there, and copies both ways. It needs no bridge, veth
// or iptables rule, so it works rootless and without CNI plugins.
//
// The inside socket is created on a thread switched into the namespace
// (ns.Do, forwarder_linux.go) and then used from ordinary goroutines: a
// socket keeps the namespace it was created in. With ForwarderOptions.Dial
// there is no namespace, and the Forwarder works on every system (the
// in-process apps of systems without namespaces use it so).
type Forwarder struct {
	netns inside // nil with ForwarderOptions.Dial
	opt   ForwarderOptions
	addrs []net.Addr

	mu      sync.Mutex
	closers map[io.Closer]struct{} // listeners, packet conns, live conns
	stopped bool
	done    chan struct{} // closed by Stop: dials in progress end
	wg      sync.WaitGroup

	udpSessions atomic.Int64 // live UDP sessions
	tcpConns    atomic.Int64 // forwarded TCP connections, dialing or open
	full        sync.Once    // logs the first refusal past a bound
}

// Bounds of what clients (anyone who can reach a host port) can make a
// Forwarder hold: each TCP connection is a socket and two goroutines on
// each side, each UDP client address an inside socket, a goroutine and a
// buffer. Past them a new connection is closed at once and a new
// client's datagram dropped; the ones being served go on.
const (
	maxForwardConns = 1024 // per Forwarder
	maxUDPSessions  = 1024 // per UDP forward
)

// refuse logs, once, that a bound was met.
func (f *Forwarder) refuse(what string) {
	f.full.Do(func() { f.opt.Log("forward: %s; more are refused until some end", what) })
}

// StartForwarder listens for every forward (HostIP "" = 0.0.0.0; HostPort 0
// picks a free port) and starts forwarding into the namespace at nsPath
// (held open until Stop, so it stays valid even if the file goes away). It
// fails, listening on nothing, if any host port cannot be bound; the error
// for a taken port is a *PortInUseError.
func StartForwarder(nsPath string, fwds []Forward, opt ForwarderOptions) (*Forwarder, error) {
	if opt.UDPIdleTimeout <= 0 {
		opt.UDPIdleTimeout = DefaultUDPIdleTimeout
	}
	if opt.Log == nil {
		opt.Log = func(string, ...any) {}
	}
	var netns inside
	if opt.Dial == nil {
		var err error
		if netns, err = openInside(nsPath); err != nil {
			return nil, fmt.Errorf("start forwarder: open namespace: %w", err)
		}
	}
	f := &Forwarder{netns: netns, opt: opt, closers: map[io.Closer]struct{}{}, done: make(chan struct{})}
	type started struct {
		l  net.Listener
		pc net.PacketConn
	}
	var ls []started
	fail := func(err error) (*Forwarder, error) {
		for _, s := range ls {
			if s.l != nil {
				s.l.Close()
			} else {
				s.pc.Close()
			}
		}
		if netns != nil {
			netns.Close()
		}
		return nil, err
	}
	if err := ValidateForwards(fwds); err != nil {
		return fail(fmt.Errorf("start forwarder: %w", err))
	}
	var err error
	for _, fw := range fwds {
		host := fw.HostIP
		if host == "" {
			host = "0.0.0.0"
		}
		addr := net.JoinHostPort(host, strconv.Itoa(int(fw.HostPort)))
		var s started
		if fw.Proto() == "udp" {
			s.pc, err = net.ListenPacket("udp", addr)
		} else {
			s.l, err = net.Listen("tcp", addr)
		}
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return fail(fmt.Errorf("start forwarder: %w", &PortInUseError{Forward: fw}))
			}
			return fail(fmt.Errorf("start forwarder: listen %s/%s: %w", addr, fw.Proto(), err))
		}
		ls = append(ls, s)
	}
	held := slices.Clone(fwds)
	for i, s := range ls {
		if s.l != nil {
			held[i].HostPort = uint16(s.l.Addr().(*net.TCPAddr).Port) // 0 asked: the kernel's
		} else {
			held[i].HostPort = uint16(s.pc.LocalAddr().(*net.UDPAddr).Port)
		}
	}
	release, err := holdLoopback6(held)
	if err != nil {
		return fail(fmt.Errorf("start forwarder: %w", err))
	}
	f.closers[&releaser{release}] = struct{}{}
	for _, s := range ls {
		if s.l != nil {
			f.addrs = append(f.addrs, s.l.Addr())
			f.closers[s.l] = struct{}{}
		} else {
			f.addrs = append(f.addrs, s.pc.LocalAddr())
			f.closers[s.pc] = struct{}{}
		}
	}
	where := "in " + nsPath
	if opt.Dial != nil {
		where = "through the dialer"
	}
	for i, s := range ls {
		guest := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(fwds[i].GuestPort)))
		f.wg.Add(1)
		if s.l != nil {
			go f.serveTCP(s.l, guest)
			opt.Log("forward %s/tcp -> %s %s (userspace)", s.l.Addr(), guest, where)
		} else {
			go f.serveUDP(s.pc, guest)
			opt.Log("forward %s/udp -> %s %s (userspace)", s.pc.LocalAddr(), guest, where)
		}
	}
	return f, nil
}

// Addrs returns the host-side listening addresses, in the order of the
// forwards given to StartForwarder.
func (f *Forwarder) Addrs() []net.Addr { return append([]net.Addr(nil), f.addrs...) }

// Stop closes the listeners and every forwarded connection and session, and
// waits for the forwarder's goroutines. It is idempotent.
func (f *Forwarder) Stop() error {
	f.mu.Lock()
	if f.stopped {
		f.mu.Unlock()
		return nil
	}
	f.stopped = true
	close(f.done)
	for c := range f.closers {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
	if f.netns == nil {
		return nil
	}
	return f.netns.Close()
}

// track registers c to be closed by Stop; false if already stopped (then
// c is closed here).
func (f *Forwarder) track(c io.Closer) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		c.Close()
		return false
	}
	f.closers[c] = struct{}{}
	return true
}

func (f *Forwarder) untrack(c io.Closer) {
	f.mu.Lock()
	delete(f.closers, c)
	f.mu.Unlock()
	c.Close()
}

// dialInside connects to addr from inside the namespace.
func (f *Forwarder) dialInside(network, addr string) (net.Conn, error) {
	if f.opt.Dial != nil {
		return f.opt.Dial(network, addr)
	}
	return f.netns.dial(network, addr, f.done)
}

// inside is a network namespace the forwarder dials into.
type inside interface {
	// dial ends early, failing, once stop is closed.
	dial(network, addr string, stop <-chan struct{}) (net.Conn, error)
	Close() error
}

func (f *Forwarder) serveTCP(l net.Listener, guest string) {
	defer f.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			f.opt.Log("forward %s: accept: %v", l.Addr(), err)
			time.Sleep(10 * time.Millisecond) // e.g. EMFILE: do not spin
			continue
		}
		if f.tcpConns.Add(1) > maxForwardConns {
			f.tcpConns.Add(-1)
			c.Close()
			f.refuse(fmt.Sprintf("%d connections forwarded at once", maxForwardConns))
			continue
		}
		if !f.track(c) {
			f.tcpConns.Add(-1)
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer f.tcpConns.Add(-1)
			defer f.untrack(c)
			in, err := f.dialInside("tcp", guest)
			if err != nil {
				f.opt.Log("forward %s -> %s: %v", c.RemoteAddr(), guest, err)
				return
			}
			if !f.track(in) {
				return
			}
			defer f.untrack(in)
			splice(c, in)
		}()
	}
}

// splice copies both ways until both directions end; EOF on one side is
// passed on as a half close.
func splice(a, b net.Conn) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		io.Copy(b, a)
		closeWrite(b)
	}()
	io.Copy(a, b)
	closeWrite(a)
	wg.Wait()
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	} else {
		c.Close()
	}
}

// udpSession is one host-side client address and its inside socket.
type udpSession struct {
	in   net.Conn
	last atomic.Int64 // unix nanos of the last datagram either way
}

func (f *Forwarder) serveUDP(pc net.PacketConn, guest string) {
	defer f.wg.Done()
	var mu sync.Mutex
	sessions := map[string]*udpSession{}
	buf := make([]byte, 64<<10)
	for {
		k, from, err := pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		key := from.String()
		// Look up and touch under mu: expiry decides under mu too, so a
		// session found here is not closed before this datagram is sent.
		mu.Lock()
		s := sessions[key]
		if s != nil {
			s.last.Store(time.Now().UnixNano())
		}
		full := len(sessions) >= maxUDPSessions
		mu.Unlock()
		if s == nil && full {
			f.refuse(fmt.Sprintf("%d UDP client addresses served at once", maxUDPSessions))
			continue
		}
		if s == nil {
			in, err := f.dialInside("udp", guest)
			if err != nil {
				f.opt.Log("forward %s -> %s/udp: %v", key, guest, err)
				continue
			}
			if !f.track(in) {
				return
			}
			s = &udpSession{in: in}
			s.last.Store(time.Now().UnixNano())
			mu.Lock()
			sessions[key] = s
			mu.Unlock()
			f.udpSessions.Add(1)
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				defer f.untrack(in)
				defer f.udpSessions.Add(-1)
				f.udpReplies(pc, from, s, func(force bool) bool {
					mu.Lock()
					defer mu.Unlock()
					if !force && time.Since(time.Unix(0, s.last.Load())) < f.opt.UDPIdleTimeout {
						return false
					}
					delete(sessions, key)
					return true
				})
			}()
		}
		s.in.Write(buf[:k]) // a refused datagram shows up as a read error
	}
}

// udpReplies sends the inside socket's datagrams back to the client until
// expire agrees the session has been idle for UDPIdleTimeout, or the
// socket fails or is closed (Stop); expire(true) ends it regardless.
func (f *Forwarder) udpReplies(pc net.PacketConn, client net.Addr, s *udpSession, expire func(force bool) bool) {
	buf := make([]byte, 64<<10)
	for {
		deadline := time.Unix(0, s.last.Load()).Add(f.opt.UDPIdleTimeout)
		if !time.Now().Before(deadline) && expire(false) {
			return
		}
		s.in.SetReadDeadline(deadline)
		k, err := s.in.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue // re-check: traffic may have moved the deadline
			}
			if errors.Is(err, syscall.ECONNREFUSED) {
				continue // nothing listening inside (yet): keep the session
			}
			f.mu.Lock()
			stopped := f.stopped
			f.mu.Unlock()
			if !stopped {
				f.opt.Log("forward %s/udp: %v", client, err)
			}
			expire(true) // the next datagram from client opens a new session
			return
		}
		s.last.Store(time.Now().UnixNano())
		pc.WriteTo(buf[:k], client)
	}
}

// releaser is a release function as an io.Closer (a pointer: a key of
// Forwarder.closers).
type releaser struct{ release func() }

func (r *releaser) Close() error { r.release(); return nil }
