package sys

import (
	"encoding/binary"
	"slices"
	"time"
)

// SolSocket is the only option level of the extension.
const SolSocket = 0

// Option names of the extension at SolSocket.
const (
	SoReuseaddr = iota
	SoType
	SoError
	SoDontroute
	SoBroadcast
	SoSndbuf
	SoRcvbuf
	SoKeepalive
	SoOobinline
	SoLinger
	SoRcvlowat
	SoRcvtimeo
	SoSndtimeo
	SoAcceptconn
	SoBindtodevice
)

type sockoptKind uint8

const (
	optInt sockoptKind = iota
	optReadOnlyInt
	optLinger
	optTimeval
	optString
	// optRecorded is only recorded, not set on the host socket (see
	// sockopt_windows.go).
	optRecorded
)

type sockopt struct {
	host int
	kind sockoptKind
}

func lookupSockopt(level, name uint32) (sockopt, Errno) {
	if level != SolSocket {
		return sockopt{}, ENOPROTOOPT
	}
	o, ok := sockopts[name]
	if !ok || o.host < 0 { // unknown, or not on this host
		return sockopt{}, ENOPROTOOPT
	}
	return o, ESUCCESS
}

// sockoptValue is an option a guest set, as it set it.
type sockoptValue struct {
	opt sockopt
	val []byte
}

// SockGetOpt returns the value of option name at level, encoded as the guest
// expects it. Errors: EBADF, ENOTSOCK, ENOPROTOOPT (unknown level or
// option). POSIX: getsockopt.
func (s *System) SockGetOpt(fd int32, level, name uint32) ([]byte, Errno) {
	f, errno := s.lookupSocket(fd, 0)
	if errno != 0 {
		return nil, errno
	}
	o, errno := lookupSockopt(level, name)
	if errno != 0 {
		return nil, errno
	}
	return s.getHostOpt(f, o)
}

// SockSetOpt sets option name at level from val, encoded as SockGetOpt
// returns it. Errors: EBADF, ENOTSOCK, ENOPROTOOPT (unknown or read-only
// option), EINVAL (val has the wrong size), EPERM (BINDTODEVICE, or a
// non-zero DONTROUTE: refused to guests, see above). POSIX: setsockopt.
func (s *System) SockSetOpt(fd int32, level, name uint32, val []byte) Errno {
	f, errno := s.lookupSocket(fd, 0)
	if errno != 0 {
		return errno
	}
	o, errno := lookupSockopt(level, name)
	if errno != 0 {
		return errno
	}
	switch {
	case name == SoBindtodevice,
		name == SoDontroute && len(val) == 4 && binary.LittleEndian.Uint32(val) != 0:
		return EPERM
	}
	if o.kind == optReadOnlyInt {
		return ENOPROTOOPT
	}
	if s.recordedOnly(f, o) {
		if len(val) != 4 {
			return EINVAL
		}
	} else if errno := setHostOpt(f.Fd, o, val); errno != 0 {
		return errno
	}
	// Kept for a move to a host socket (moveOutside).
	f.Sock.opts = append(f.Sock.opts, sockoptValue{o, slices.Clone(val)})
	return ESUCCESS
}

// guestTimeval decodes a guest's struct timeval (RCVTIMEO, SNDTIMEO):
// EINVAL unless it is 16 bytes of a non-negative time.
func guestTimeval(val []byte) (sec, usec int64, errno Errno) {
	if len(val) != 16 {
		return 0, 0, EINVAL
	}
	sec = int64(binary.LittleEndian.Uint64(val))
	usec = int64(binary.LittleEndian.Uint64(val[8:]))
	if sec < 0 || usec < 0 || usec >= int64(time.Second/time.Microsecond) {
		return 0, 0, EINVAL
	}
	return sec, usec, ESUCCESS
}
