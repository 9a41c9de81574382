package wasi

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// SocketEvent is one socket call of the guest, for Config.SocketEvents:
// each bind, listen and connect with its result, each accept that failed
// (but for EAGAIN, a non-blocking accept's "nothing yet"), and each
// sock_getaddrinfo. A non-blocking connect is reported once its outcome is
// known: when the guest reads SO_ERROR, as Go, libc and Python guests do
// after polling, or connects again. Reads, writes and polls are never
// reported.
type SocketEvent struct {
	// Call is "bind", "listen", "connect", "accept" or "getaddrinfo".
	Call string
	// Target is what the call was on: an address as the guest wrote it
	// ("0.0.0.0:3000", "[::1]:80", a Unix path; for listen and accept
	// the socket's own), or the name getaddrinfo looked up.
	Target string
	// Errno is the WASI errno name of the result ("EADDRINUSE",
	// "EAI_NONAME"), "" for success.
	Errno string
	// Why, when set, says why wasmrun rather than the kernel refused
	// ("denied by the egress policy").
	Why string
}

// String renders e for a log line, as "bind 0.0.0.0:3000: EADDRINUSE",
// "connect to 10.0.0.1:443: EPERM (denied by the egress policy)" or
// "listen on 0.0.0.0:3000: ok". A target the guest chose (a name, a Unix
// path) that is not plain printable text is quoted Go-style, so a guest
// cannot end the line, forge one of wasmrun's own or send escape sequences
// to the operator's terminal.
func (e SocketEvent) String() string {
	s := e.Call + " "
	switch e.Call {
	case "connect":
		s += "to "
	case "listen", "accept":
		s += "on "
	}
	s += printable(e.Target) + ": "
	if e.Errno == "" {
		s += "ok"
	} else {
		s += e.Errno
	}
	if e.Why != "" {
		s += " (" + e.Why + ")"
	}
	return s
}

// printable returns s, or s quoted when it is empty or holds anything but
// printable UTF-8 without spaces.
func printable(s string) string {
	if s == "" || !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || r == ' ' {
			return strconv.Quote(s)
		}
	}
	return s
}
