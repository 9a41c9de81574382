//go:build linux || darwin

package sys

import (
	"encoding/binary"
	"slices"

	"golang.org/x/sys/unix"
)

// Socket options of the socket extension: level 0 is SOL_SOCKET, and the
// option numbers are the extension's own, mapped here to the host's.
// Values are little-endian as the guest stores them:
//   - integer and boolean options: i32 (4 bytes);
//   - LINGER: struct linger {i32 l_onoff; i32 l_linger} (8 bytes);
//   - RCVTIMEO, SNDTIMEO: wasi-libc's struct timeval {i64 tv_sec; i64
//     tv_usec} (16 bytes);
//   - BINDTODEVICE: the interface name.
//
// TYPE, ERROR and ACCEPTCONN are read-only; TYPE reads as the extension's
// socket type (1 dgram, 2 stream) and ERROR as a WASI errno (what a guest
// compares with its errno constants after a non-blocking connect).
//
// Options that steer packets past the routing table are refused to guests
// (EPERM), whatever the host process's privileges: setting BINDTODEVICE at
// all, and setting DONTROUTE to non-zero. A root host process would
// otherwise let a guest send, say, 127.0.0.1 traffic out of eth0, or reach
// a neighbour on the link without a route, around the namespace's routes
// and the egress policy, which judges addresses only. Reading either stays
// allowed (they read as their defaults: no device, 0).

var sockopts = map[uint32]sockopt{
	SoReuseaddr:    {unix.SO_REUSEADDR, optInt},
	SoType:         {unix.SO_TYPE, optReadOnlyInt},
	SoError:        {unix.SO_ERROR, optReadOnlyInt},
	SoDontroute:    {unix.SO_DONTROUTE, optInt},
	SoBroadcast:    {unix.SO_BROADCAST, optInt},
	SoSndbuf:       {unix.SO_SNDBUF, optInt},
	SoRcvbuf:       {unix.SO_RCVBUF, optInt},
	SoKeepalive:    {unix.SO_KEEPALIVE, optInt},
	SoOobinline:    {unix.SO_OOBINLINE, optInt},
	SoLinger:       {unix.SO_LINGER, optLinger},
	SoRcvlowat:     {unix.SO_RCVLOWAT, optInt},
	SoRcvtimeo:     {unix.SO_RCVTIMEO, optTimeval},
	SoSndtimeo:     {unix.SO_SNDTIMEO, optTimeval},
	SoAcceptconn:   {unix.SO_ACCEPTCONN, optReadOnlyInt},
	SoBindtodevice: {soBindtodevice, optString},
}

// recordedOnly says o is recorded for f, not set on its host socket:
// REUSEADDR on a datagram socket, and under simulated isolation on any.
// On Linux it lets another UDP socket with it bind the same address and
// port, and the newest binder takes the unicast datagrams sent there: a
// guest on the host's network (isolation = false), or whose virtual port
// is a host port (simulated isolation), would take what is sent to a host
// service or another app that set it too. On a TCP socket it lets a bind
// reuse a port in TIME_WAIT, and share one with another REUSEADDR socket
// bound there but not yet listening (the first to listen wins): a
// simulated app's host port, always a fresh one (its binds are to port 0),
// does without it, and no host process may share it.
func (s *System) recordedOnly(f *File, o sockopt) bool {
	if o.host != unix.SO_REUSEADDR {
		return false
	}
	if s.VPorts != nil || f.Sock != nil && f.Sock.relay {
		return true
	}
	t, err := unix.GetsockoptInt(f.Fd, unix.SOL_SOCKET, unix.SO_TYPE)
	return err == nil && t == unix.SOCK_DGRAM
}

// recordedValue is the last value the guest set of a recorded option (0
// if none).
func recordedValue(f *File, o sockopt) []byte {
	v := []byte{0, 0, 0, 0}
	for _, set := range f.Sock.opts {
		if set.opt == o {
			v = slices.Clone(set.val)
		}
	}
	return v
}

// getHostOpt reads o of f's host socket, encoded for the guest.
func (s *System) getHostOpt(f *File, o sockopt) ([]byte, Errno) {
	if s.recordedOnly(f, o) {
		return recordedValue(f, o), ESUCCESS
	}
	switch o.kind {
	case optInt, optReadOnlyInt:
		v, err := unix.GetsockoptInt(f.Fd, unix.SOL_SOCKET, o.host)
		if err != nil {
			return nil, ErrnoFromError(err)
		}
		switch o.host {
		case unix.SO_ERROR:
			v = int(ErrnoFromError(unix.Errno(v)))
			if s.Events != nil && f.Sock.connecting != nil {
				s.connectOutcome(f, Errno(v))
			}
		case unix.SO_TYPE:
			if v == unix.SOCK_DGRAM || f.Sock.relay {
				v = int(SockDgram)
			} else {
				v = int(SockStream)
			}
		}
		return binary.LittleEndian.AppendUint32(nil, uint32(int32(v))), ESUCCESS
	case optLinger:
		l, err := unix.GetsockoptLinger(f.Fd, unix.SOL_SOCKET, o.host)
		if err != nil {
			return nil, ErrnoFromError(err)
		}
		b := binary.LittleEndian.AppendUint32(nil, uint32(l.Onoff))
		return binary.LittleEndian.AppendUint32(b, uint32(l.Linger)), ESUCCESS
	case optTimeval:
		tv, err := unix.GetsockoptTimeval(f.Fd, unix.SOL_SOCKET, o.host)
		if err != nil {
			return nil, ErrnoFromError(err)
		}
		b := binary.LittleEndian.AppendUint64(nil, uint64(tv.Sec))
		return binary.LittleEndian.AppendUint64(b, uint64(tv.Usec)), ESUCCESS
	case optString:
		v, err := unix.GetsockoptString(f.Fd, unix.SOL_SOCKET, o.host)
		if err != nil {
			return nil, ErrnoFromError(err)
		}
		return []byte(v), ESUCCESS
	}
	return nil, ENOPROTOOPT
}

// setHostOpt sets o on host socket fd from the guest's encoding val.
func setHostOpt(fd int, o sockopt, val []byte) Errno {
	var err error
	switch o.kind {
	case optInt:
		if len(val) != 4 {
			return EINVAL
		}
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, o.host, int(int32(binary.LittleEndian.Uint32(val))))
	case optLinger:
		if len(val) != 8 {
			return EINVAL
		}
		err = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, o.host, &unix.Linger{
			Onoff:  int32(binary.LittleEndian.Uint32(val)),
			Linger: int32(binary.LittleEndian.Uint32(val[4:])),
		})
	case optTimeval:
		sec, usec, errno := guestTimeval(val)
		if errno != 0 {
			return errno
		}
		err = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, o.host, timeval(sec, usec))
	case optString:
		n := len(val)
		for i, c := range val {
			if c == 0 {
				n = i
				break
			}
		}
		err = unix.SetsockoptString(fd, unix.SOL_SOCKET, o.host, string(val[:n]))
	}
	return ErrnoFromError(err)
}

// timeval makes a unix.Timeval, whose microseconds field has another type
// on each system.
func timeval(sec, usec int64) *unix.Timeval {
	tv := unix.NsecToTimeval(usec * 1000)
	tv.Sec = sec
	return &tv
}
