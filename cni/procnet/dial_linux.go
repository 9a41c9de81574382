package procnet

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The dial-passing protocol lets a process outside a namespace get sockets
// connected from inside it without setns (which an unprivileged process
// cannot do into a namespace owned by a child user namespace):
//
//	host (Forwarder)                         inside (e.g. the container's init)
//	FDDialer(host) ---- "7 tcp 127.0.0.1:3000" ---> ServeDial(inside)
//	                                                net.Dial("tcp", ...)
//	               <--- "ok 7" + SCM_RIGHTS fd ----
//	               <--- "err 7 connection refused" (on failure)
//
// over one SOCK_SEQPACKET socket pair, one request at a time. Each request
// has a number its reply repeats: a reply that comes after its dial gave
// up waiting is known as late and dropped, never taken for the next
// dial's (another port's) connection.

// dialTimeout bounds one inside dial.
const dialTimeout = 10 * time.Second

// replyWait bounds the wait for a dial's reply (a variable for tests).
var replyWait = dialTimeout + 5*time.Second

// DialSocketPair returns a connected SOCK_SEQPACKET unix socket pair (both
// close-on-exec; pass inside to the child through exec.Cmd.ExtraFiles).
func DialSocketPair() (host, inside *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("create dial socket pair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "dial-host"), os.NewFile(uintptr(fds[1]), "dial-inside"), nil
}

func unixConn(f *os.File) (*net.UnixConn, error) {
	c, err := net.FileConn(f) // dups f
	if err != nil {
		return nil, err
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("%s is not a unix socket", f.Name())
	}
	return uc, nil
}

// ServeDial answers dial requests arriving on f (the inside end of
// DialSocketPair) until the other end closes it, then returns nil. It must
// run in the namespace: every dial happens on the calling goroutine, so
// under ns.Do (a locked thread) or in a process that lives there.
func ServeDial(f *os.File) error { return serveDial(f, nil) }

// serveDial is ServeDial making its connections with dial (nil: net.Dial).
func serveDial(f *os.File, dial func(network, address string) (net.Conn, error)) error {
	if dial == nil {
		dial = func(network, addr string) (net.Conn, error) { return net.DialTimeout(network, addr, dialTimeout) }
	}
	c, err := unixConn(f)
	if err != nil {
		return fmt.Errorf("serve dial: %w", err)
	}
	defer c.Close()
	buf := make([]byte, 512)
	for {
		k, _, _, _, err := c.ReadMsgUnix(buf, nil)
		if err != nil || k == 0 {
			if err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("serve dial: read request: %w", err)
		}
		seq, req, _ := strings.Cut(string(buf[:k]), " ")
		network, addr, ok := strings.Cut(req, " ")
		var conn net.Conn
		if !ok || (network != "tcp" && network != "udp") {
			err = fmt.Errorf("bad request %q", buf[:k])
		} else {
			conn, err = dial(network, addr)
		}
		if err != nil {
			if _, _, werr := c.WriteMsgUnix([]byte("err "+seq+" "+err.Error()), nil, nil); werr != nil {
				return fmt.Errorf("serve dial: reply: %w", werr)
			}
			continue
		}
		werr := sendConn(c, conn, seq)
		conn.Close()
		if werr != nil {
			return fmt.Errorf("serve dial: reply: %w", werr)
		}
	}
}

// sendConn sends conn's socket over c with the reply "ok SEQ".
func sendConn(c *net.UnixConn, conn net.Conn, seq string) error {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return fmt.Errorf("%T has no socket", conn)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	err = raw.Control(func(fd uintptr) {
		_, _, werr = c.WriteMsgUnix([]byte("ok "+seq), unix.UnixRights(int(fd)), nil)
	})
	if err != nil {
		return err
	}
	return werr
}

// FDDialer returns a dial function for ForwarderOptions.Dial that asks the
// ServeDial at the other end of f (the host end of DialSocketPair) to
// connect, and wraps the socket it sends back. It is safe for concurrent
// use (requests are serialized). The returned close function closes the
// host end, which makes ServeDial return.
func FDDialer(f *os.File) (dial func(network, address string) (net.Conn, error), closeFn func() error, err error) {
	c, err := unixConn(f)
	if err != nil {
		return nil, nil, fmt.Errorf("dial through %s: %w", f.Name(), err)
	}
	var mu sync.Mutex
	var seq uint64
	dial = func(network, address string) (net.Conn, error) {
		mu.Lock()
		defer mu.Unlock()
		seq++
		id := strconv.FormatUint(seq, 10)
		if _, _, err := c.WriteMsgUnix([]byte(id+" "+network+" "+address), nil, nil); err != nil {
			return nil, fmt.Errorf("dial %s %s inside: send request: %w", network, address, err)
		}
		buf := make([]byte, 512)
		oob := make([]byte, unix.CmsgSpace(4))
		c.SetReadDeadline(time.Now().Add(replyWait))
		defer c.SetReadDeadline(time.Time{})
		var reply string
		var fds []int
		for {
			k, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
			// Descriptors first: they came even with an error (a
			// zero-length reply reads as EOF), and must not stay open.
			fds = fds[:0]
			if msgs, perr := unix.ParseSocketControlMessage(oob[:oobn]); perr == nil {
				for _, m := range msgs {
					if r, perr := unix.ParseUnixRights(&m); perr == nil {
						fds = append(fds, r...)
					}
				}
			}
			// A close of ours never waits on the sender's choice: it may
			// have set a linger time with unsent data queued, which would
			// block the close (and this dialer, and the forwarder's Stop).
			for _, fd := range fds {
				unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{})
			}
			if err != nil {
				for _, fd := range fds {
					unix.Close(fd)
				}
				return nil, fmt.Errorf("dial %s %s inside: read reply: %w", network, address, err)
			}
			status, rest, _ := strings.Cut(string(buf[:k]), " ")
			got, msg, _ := strings.Cut(rest, " ")
			if got == id {
				reply = status
				if status == "err" {
					reply += " " + msg
				}
				break
			}
			for _, fd := range fds { // a late reply to an earlier dial
				unix.Close(fd)
			}
		}
		if reply != "ok" || len(fds) != 1 {
			for _, fd := range fds {
				unix.Close(fd)
			}
			if msg, ok := strings.CutPrefix(reply, "err "); ok {
				return nil, fmt.Errorf("dial %s %s inside: %s", network, address, msg)
			}
			return nil, fmt.Errorf("dial %s %s inside: bad reply %q with %d fds", network, address, reply, len(fds))
		}
		if err := checkDialed(fds[0], network); err != nil {
			unix.Close(fds[0])
			return nil, fmt.Errorf("dial %s %s inside: %w", network, address, err)
		}
		file := os.NewFile(uintptr(fds[0]), "inside-"+network)
		defer file.Close()
		conn, err := net.FileConn(file)
		if err != nil {
			return nil, fmt.Errorf("dial %s %s inside: %w", network, address, err)
		}
		return conn, nil
	}
	return dial, c.Close, nil
}

// checkDialed checks the descriptor a ServeDial sent back for a dial of
// network: a connected TCP or UDP socket (as network says) of IPv4 or
// IPv6 whose peer is a loopback address (at the guest's port, or under
// simulated isolation the host port its port is). The process
// at the other end may be the guest's, should it get out of the
// WebAssembly sandbox: the forwarder relays the host's clients into
// nothing else (a socket to elsewhere, a pipe, one of its Unix sockets).
func checkDialed(fd int, network string) error {
	want := unix.SOCK_STREAM
	if network == "udp" {
		want = unix.SOCK_DGRAM
	}
	dom, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return fmt.Errorf("got a descriptor that is not a socket: %w", err)
	}
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil || (dom != unix.AF_INET && dom != unix.AF_INET6) || typ != want {
		return fmt.Errorf("got a socket of domain %d and type %d, not %s", dom, typ, network)
	}
	sa, err := unix.Getpeername(fd)
	if err != nil {
		return fmt.Errorf("got a socket that is not connected: %w", err)
	}
	peer := sockaddrPort(sa)
	if !peer.Addr().IsLoopback() {
		return fmt.Errorf("got a socket connected to %s, not to the guest's loopback", peer.Addr())
	}
	return nil
}
