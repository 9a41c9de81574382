package sys

import (
	"encoding/binary"
	"slices"

	"golang.org/x/sys/windows"
)

// Socket options on Windows, with what differs from Linux:
//   - REUSEADDR is recorded, not set: Winsock's SO_REUSEADDR lets a socket
//     bind a port another socket (of any process of the user) is bound to
//     and take its traffic, which a guest must not do. Windows already
//     lets a server bind a port with connections in TIME_WAIT, which is
//     what guests set it for.
//   - LINGER is Winsock's two u_shorts, RCVTIMEO and SNDTIMEO are
//     milliseconds (a timeout below 1 ms is rounded up to 1 ms, since 0
//     means none); the guest's encodings are Linux's as elsewhere.
//   - BINDTODEVICE does not exist (ENOPROTOOPT), RCVLOWAT cannot be set.

// Winsock's SOL_SOCKET options.
const (
	solSocket    = 0xffff
	soDebug      = 0x1
	soAcceptconn = 0x2
	soReuseaddr  = 0x4
	soKeepalive  = 0x8
	soDontroute  = 0x10
	soBroadcast  = 0x20
	soLinger     = 0x80
	soOobinline  = 0x100
	soSndbuf     = 0x1001
	soRcvbuf     = 0x1002
	soRcvlowat   = 0x1004
	soSndtimeo   = 0x1005
	soRcvtimeo   = 0x1006
	soError      = 0x1007
	soType       = 0x1008
)

var sockopts = map[uint32]sockopt{
	SoReuseaddr:    {soReuseaddr, optRecorded},
	SoType:         {soType, optReadOnlyInt},
	SoError:        {soError, optReadOnlyInt},
	SoDontroute:    {soDontroute, optInt},
	SoBroadcast:    {soBroadcast, optInt},
	SoSndbuf:       {soSndbuf, optInt},
	SoRcvbuf:       {soRcvbuf, optInt},
	SoKeepalive:    {soKeepalive, optInt},
	SoOobinline:    {soOobinline, optInt},
	SoLinger:       {soLinger, optLinger},
	SoRcvlowat:     {soRcvlowat, optInt},
	SoRcvtimeo:     {soRcvtimeo, optTimeval},
	SoSndtimeo:     {soSndtimeo, optTimeval},
	SoAcceptconn:   {soAcceptconn, optReadOnlyInt},
	SoBindtodevice: {-1, optString},
}

// getsockopt reads a raw option of h into buf and returns its length.
func getsockopt(h windows.Handle, name int, buf []byte) (int, error) {
	n := int32(len(buf))
	err := windows.Getsockopt(h, solSocket, int32(name), &buf[0], &n)
	return int(n), err
}

// recordedOnly: on Windows, what is recorded only is its own kind
// (optRecorded), which setHostOpt and getHostOpt handle.
func (s *System) recordedOnly(f *File, o sockopt) bool { return false }

// getHostOpt reads o of f's host socket, encoded for the guest.
func (s *System) getHostOpt(f *File, o sockopt) ([]byte, Errno) {
	var buf [8]byte
	switch o.kind {
	case optRecorded:
		v := []byte{0, 0, 0, 0}
		for _, set := range f.Sock.opts {
			if set.opt == o {
				v = slices.Clone(set.val)
			}
		}
		return v, ESUCCESS
	case optInt, optReadOnlyInt:
		if _, err := getsockopt(f.handle(), o.host, buf[:4]); err != nil {
			return nil, ErrnoFromError(err)
		}
		v := int(int32(binary.LittleEndian.Uint32(buf[:])))
		switch o.host {
		case soError:
			v = int(ErrnoFromError(windows.Errno(v)))
			if s.Events != nil && f.Sock.connecting != nil {
				s.connectOutcome(f, Errno(v))
			}
		case soType:
			if v == windows.SOCK_DGRAM {
				v = int(SockDgram)
			} else {
				v = int(SockStream)
			}
		case soAcceptconn, soKeepalive, soDontroute, soBroadcast, soOobinline:
			// BOOLs: Winsock may fill one byte only.
			if buf[0] != 0 {
				v = 1
			} else {
				v = 0
			}
		}
		return binary.LittleEndian.AppendUint32(nil, uint32(int32(v))), ESUCCESS
	case optLinger:
		if _, err := getsockopt(f.handle(), o.host, buf[:4]); err != nil {
			return nil, ErrnoFromError(err)
		}
		b := binary.LittleEndian.AppendUint32(nil, uint32(binary.LittleEndian.Uint16(buf[:])))
		return binary.LittleEndian.AppendUint32(b, uint32(binary.LittleEndian.Uint16(buf[2:]))), ESUCCESS
	case optTimeval:
		if _, err := getsockopt(f.handle(), o.host, buf[:4]); err != nil {
			return nil, ErrnoFromError(err)
		}
		ms := int64(binary.LittleEndian.Uint32(buf[:]))
		b := binary.LittleEndian.AppendUint64(nil, uint64(ms/1000))
		return binary.LittleEndian.AppendUint64(b, uint64(ms%1000*1000)), ESUCCESS
	}
	return nil, ENOPROTOOPT
}

// setHostOpt sets o on host socket fd from the guest's encoding val.
func setHostOpt(fd int, o sockopt, val []byte) Errno {
	var raw []byte
	switch o.kind {
	case optRecorded, optInt:
		if len(val) != 4 {
			return EINVAL
		}
		if o.kind == optRecorded {
			return ESUCCESS
		}
		raw = val
	case optLinger:
		if len(val) != 8 {
			return EINVAL
		}
		onoff, secs := binary.LittleEndian.Uint32(val), binary.LittleEndian.Uint32(val[4:])
		if secs > 0xffff {
			return EINVAL
		}
		raw = binary.LittleEndian.AppendUint16(nil, uint16(min(onoff, 1)))
		raw = binary.LittleEndian.AppendUint16(raw, uint16(secs))
	case optTimeval:
		sec, usec, errno := guestTimeval(val)
		if errno != 0 {
			return errno
		}
		ms := min(sec*1000+(usec+999)/1000, 0xffffffff)
		if sec > 0xffffffff/1000 {
			ms = 0xffffffff
		}
		raw = binary.LittleEndian.AppendUint32(nil, uint32(ms))
	default:
		return ENOPROTOOPT
	}
	return ErrnoFromError(windows.Setsockopt(windows.Handle(fd), solSocket, int32(o.host), &raw[0], int32(len(raw))))
}
