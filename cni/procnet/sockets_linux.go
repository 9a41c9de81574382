package procnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Outbound traffic of a namespace without a bridge goes through sockets
// that the creating process (in the host's namespace) makes for the
// container process and passes to it:
//
//	container process (wasi)                   creator (ServeSockets)
//	Sockets.Socket(AF_INET, SOCK_STREAM, 0) --- domain, type, protocol, generation -->  socket(2)
//	        <-- errno, generation [, block list when newer] + SCM_RIGHTS fd ---
//
// over one SOCK_SEQPACKET socket pair. The creator makes only unconnected
// TCP and UDP sockets of IPv4 and IPv6; where they may go is decided in
// the container process (Outbound.Blocked and the egress policy). The
// host's addresses change after the container is made (an interface, a
// bridge, a VPN comes up): the creator numbers its block list and sends
// the current one with a socket whenever the process's is older, so the
// process checks each new host socket against the host as it is.

// requestLen is the size of one request: domain, type, protocol as
// int32s, the generation of the process's block list as a uint64.
const requestLen = 20

// replyMax bounds a reply: errno, generation, and a block list of up to
// 4096 prefixes (18 bytes each at most).
const replyMax = 4 + 8 + 4 + 4096*18

// BlockList is the creator's current block list and its generation,
// which grows with every change (see ServeSockets).
type BlockList func() (gen uint64, blocked []netip.Prefix)

// ServeSockets makes sockets in this process's network namespace for the
// process at the other end of f (the host end of DialSocketPair), until it
// closes its end or f is closed, and sends blocked's list with a socket
// when the process's is older (nil: none). It takes ownership of f.
func ServeSockets(f *os.File, blocked BlockList) error {
	c, err := unixConn(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("serve sockets: %w", err)
	}
	defer c.Close()
	buf := make([]byte, 64)
	for {
		k, _, _, _, err := c.ReadMsgUnix(buf, nil)
		if err != nil || k == 0 {
			if err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, unix.ECONNRESET) {
				return nil
			}
			return fmt.Errorf("serve sockets: read request: %w", err)
		}
		errno, fd := makeSocket(buf[:k])
		reply := binary.LittleEndian.AppendUint32(nil, uint32(errno))
		if blocked != nil && k == requestLen {
			gen, list := blocked()
			reply = binary.LittleEndian.AppendUint64(reply, gen)
			if gen != binary.LittleEndian.Uint64(buf[12:]) {
				reply = appendPrefixes(reply, list)
			}
		} else {
			reply = binary.LittleEndian.AppendUint64(reply, 0)
		}
		var oob []byte
		if fd >= 0 {
			oob = unix.UnixRights(fd)
		}
		_, _, err = c.WriteMsgUnix(reply, oob, nil)
		if fd >= 0 {
			unix.Close(fd)
		}
		if err != nil {
			return fmt.Errorf("serve sockets: reply: %w", err)
		}
	}
}

// appendPrefixes encodes list: a count, then per prefix its bits, its
// address's length (4 or 16) and the address.
func appendPrefixes(b []byte, list []netip.Prefix) []byte {
	list = list[:min(len(list), 4096)]
	b = binary.LittleEndian.AppendUint32(b, uint32(len(list)))
	for _, p := range list {
		a := p.Addr().AsSlice()
		b = append(b, byte(p.Bits()), byte(len(a)))
		b = append(b, a...)
	}
	return b
}

// parsePrefixes decodes what appendPrefixes wrote.
func parsePrefixes(b []byte) ([]netip.Prefix, bool) {
	if len(b) < 4 {
		return nil, false
	}
	n := int(binary.LittleEndian.Uint32(b))
	b = b[4:]
	if n > 4096 {
		return nil, false
	}
	out := make([]netip.Prefix, 0, n)
	for range n {
		if len(b) < 2 || int(b[1]) != 4 && int(b[1]) != 16 || len(b) < 2+int(b[1]) {
			return nil, false
		}
		a, _ := netip.AddrFromSlice(b[2 : 2+int(b[1])])
		p, err := a.Prefix(int(b[0]))
		if err != nil || p.Bits() != int(b[0]) {
			return nil, false
		}
		out = append(out, p)
		b = b[2+int(b[1]):]
	}
	return out, len(b) == 0
}

// makeSocket answers one request: only unconnected TCP and UDP sockets of
// IPv4 and IPv6, close-on-exec.
func makeSocket(req []byte) (unix.Errno, int) {
	if len(req) != requestLen {
		return unix.EINVAL, -1
	}
	domain := int(int32(binary.LittleEndian.Uint32(req[0:])))
	typ := int(int32(binary.LittleEndian.Uint32(req[4:])))
	proto := int(int32(binary.LittleEndian.Uint32(req[8:])))
	if domain != unix.AF_INET && domain != unix.AF_INET6 {
		return unix.EAFNOSUPPORT, -1
	}
	switch {
	case typ == unix.SOCK_STREAM && (proto == 0 || proto == unix.IPPROTO_TCP),
		typ == unix.SOCK_DGRAM && (proto == 0 || proto == unix.IPPROTO_UDP):
	default:
		return unix.EPROTONOSUPPORT, -1
	}
	fd, err := unix.Socket(domain, typ|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		var errno unix.Errno
		if errors.As(err, &errno) {
			return errno, -1
		}
		return unix.EIO, -1
	}
	return 0, fd
}

// Sockets asks the ServeSockets at the other end of a descriptor for
// host sockets and keeps the block list that comes with them. It is safe
// for concurrent use.
type Sockets struct {
	fd      int
	mu      sync.Mutex // one request at a time
	gen     uint64
	blocked atomic.Pointer[[]netip.Prefix]
}

// NewSockets asks on fd, starting from out's block list.
func NewSockets(fd int, out *Outbound) *Sockets {
	s := &Sockets{fd: fd, gen: out.BlockedGen}
	s.blocked.Store(&out.Blocked)
	return s
}

// Blocked returns the current block list.
func (s *Sockets) Blocked() []netip.Prefix { return *s.blocked.Load() }

// Socket returns a new socket(2) of the creator's namespace, and takes
// the block list that came with it.
func (s *Sockets) Socket(domain, typ, proto int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req := make([]byte, 0, requestLen)
	for _, v := range []int{domain, typ, proto} {
		req = binary.LittleEndian.AppendUint32(req, uint32(int32(v)))
	}
	req = binary.LittleEndian.AppendUint64(req, s.gen)
	if err := unix.Sendmsg(s.fd, req, nil, nil, 0); err != nil {
		return -1, fmt.Errorf("ask for a host socket: %w", err)
	}
	buf := make([]byte, replyMax)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, flags, _, err := unix.Recvmsg(s.fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("ask for a host socket: %w", err)
	}
	var fds []int
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
		for _, m := range msgs {
			if r, err := unix.ParseUnixRights(&m); err == nil {
				fds = append(fds, r...)
			}
		}
	}
	bad := func() (int, error) {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return -1, fmt.Errorf("ask for a host socket: bad reply (%d bytes, %d fds)", n, len(fds))
	}
	if n < 12 || len(fds) > 1 || flags&unix.MSG_TRUNC != 0 {
		return bad()
	}
	if gen := binary.LittleEndian.Uint64(buf[4:]); n > 12 {
		list, ok := parsePrefixes(buf[12:n])
		if !ok {
			return bad()
		}
		s.gen = gen
		s.blocked.Store(&list)
	}
	if errno := unix.Errno(binary.LittleEndian.Uint32(buf)); errno != 0 || len(fds) == 0 {
		if errno == 0 {
			errno = unix.EIO
		}
		return -1, errno
	}
	return fds[0], nil
}
