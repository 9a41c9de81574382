package cni

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// Outbound traffic of a namespace without a bridge goes through sockets
// that the creating process (in the host's namespace) makes for the
// container process and passes to it, the way a rootless network stack
// hands sockets across: the guest's connection is the kernel's own TCP in
// the host's namespace, at native speed, and nothing (no bridge, NAT or
// rules) is set up at start.
//
//	container process (wasi)                   creator (ServeSockets)
//	SocketDialer(fd)(AF_INET, SOCK_STREAM, 0) --- 12 bytes -->  socket(2)
//	                          <-- errno 0 + SCM_RIGHTS fd ---
//
// over one SOCK_SEQPACKET socket pair. The creator makes only unconnected
// TCP and UDP sockets of IPv4 and IPv6. Where they may go is decided in
// the container process, which sees every connect and send of the guest:
// never to an address in Outbound.Blocked (the host itself, other apps),
// and only where the egress policy permits.

// alwaysBlocked are never an app's outside: loopback and "this network",
// link-local (169.254.169.254 is a cloud's metadata service), multicast,
// broadcast, and the IPv6 equivalents.
var alwaysBlocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("255.255.255.255/32"),
	netip.MustParsePrefix("::/128"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("ff00::/8"),
}

// blockedFromApps returns what no app may reach through host sockets:
// alwaysBlocked, every address of the host, and the whole subnet of each
// host bridge (apps of ours, and other containers) and of subnet (our
// bridge's, which may not exist yet). It is a snapshot: an address the
// host gains later is not in it.
func blockedFromApps(subnet string) ([]netip.Prefix, error) {
	out := append([]netip.Prefix(nil), alwaysBlocked...)
	if p, err := netip.ParsePrefix(subnet); err == nil {
		out = append(out, p.Masked())
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list host interfaces: %w", err)
	}
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			return nil, fmt.Errorf("list addresses of %s: %w", ifc.Name, err)
		}
		_, err = os.Stat(filepath.Join("/sys/class/net", ifc.Name, "bridge"))
		bridge := err == nil
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(n.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
			if ones, _ := n.Mask.Size(); bridge {
				out = append(out, netip.PrefixFrom(ip, ones).Masked())
			}
		}
	}
	return out, nil
}

// socketRequest is one request: domain, type, protocol, as int32s.
const socketRequestLen = 12

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
	if len(req) != socketRequestLen {
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
		req := make([]byte, 0, socketRequestLen)
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

// loopbackPrefixes are a namespace's own loopback.
var loopbackPrefixes = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// prepareOutbound serves host sockets to the process cmd starts: the
// process's end of a socket pair goes to cmd, and the server runs until
// the process closes it (it exits). The caller closes the returned end,
// ours copy of the process's, once the process has started (or failed to).
func prepareOutbound(cmd *exec.Cmd, subnet string, inside []netip.Prefix, hostResolver bool, log Logf) (*Outbound, *os.File, error) {
	blocked, err := blockedFromApps(subnet)
	if err != nil {
		return nil, nil, err
	}
	host, theirs, err := DialSocketPair()
	if err != nil {
		return nil, nil, err
	}
	go func() {
		if err := ServeSockets(host); err != nil {
			log("outbound: %v", err)
		}
	}()
	cmd.ExtraFiles = append(cmd.ExtraFiles, theirs)
	return &Outbound{
		SocketFD: 2 + len(cmd.ExtraFiles), // ExtraFiles[i] is fd 3+i
		Inside:   inside, Blocked: blocked, HostResolver: hostResolver,
	}, theirs, nil
}

// hostResolver reports whether namespace name resolves with the host's
// resolv.conf (no /etc/netns/<name>/resolv.conf of its own).
func hostResolver(name string) bool {
	rc, _ := ResolvConf(name)
	return rc == filepath.Join(etcDir, "resolv.conf")
}
