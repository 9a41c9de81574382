package procnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Outbound traffic of a namespace without a bridge goes through sockets
// that the creating process (in the host's namespace) makes for the
// container process and passes to it:
//
//	container process (wasi)                   creator (ServeSockets)
//	SocketDialer(fd)(AF_INET, SOCK_STREAM, 0) --- 12 bytes -->  socket(2)
//	                          <-- errno 0 + SCM_RIGHTS fd ---
//
// over one SOCK_SEQPACKET socket pair. The creator makes only unconnected
// TCP and UDP sockets of IPv4 and IPv6; where they may go is decided in
// the container process (Outbound.Blocked and the egress policy).

// requestLen is the size of one request: domain, type, protocol, as int32s.
const requestLen = 12

// ServeSockets makes sockets in this process's network namespace for the
// process at the other end of f (the host end of DialSocketPair), until it
// closes its end or f is closed. It takes ownership of f.
func ServeSockets(f *os.File) error {
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

// SocketDialer returns a function that asks the ServeSockets at the other
// end of fd for a socket. It is safe for concurrent use.
func SocketDialer(fd int) func(domain, typ, proto int) (int, error) {
	var mu sync.Mutex
	return func(domain, typ, proto int) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		req := make([]byte, 0, requestLen)
		for _, v := range []int{domain, typ, proto} {
			req = binary.LittleEndian.AppendUint32(req, uint32(int32(v)))
		}
		if err := unix.Sendmsg(fd, req, nil, nil, 0); err != nil {
			return -1, fmt.Errorf("ask for a host socket: %w", err)
		}
		var buf [4]byte
		oob := make([]byte, unix.CmsgSpace(4))
		n, oobn, _, _, err := unix.Recvmsg(fd, buf[:], oob, unix.MSG_CMSG_CLOEXEC)
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
		if n != 4 || len(fds) > 1 {
			for _, fd := range fds {
				unix.Close(fd)
			}
			return -1, fmt.Errorf("ask for a host socket: bad reply (%d bytes, %d fds)", n, len(fds))
		}
		if errno := unix.Errno(binary.LittleEndian.Uint32(buf[:])); errno != 0 || len(fds) == 0 {
			if errno == 0 {
				errno = unix.EIO
			}
			return -1, errno
		}
		return fds[0], nil
	}
}
