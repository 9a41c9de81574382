package sys

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// Errno is a WASI preview1 errno (0 is success). The system layer returns it
// directly; the ABI layer hands it to the guest unchanged.
type Errno uint16

// The preview1 errno values, in spec order, plus the getaddrinfo errnos that
// the WasmEdge socket extension adds after ENOTCAPABLE.
const (
	ESUCCESS Errno = iota
	E2BIG
	EACCES
	EADDRINUSE
	EADDRNOTAVAIL
	EAFNOSUPPORT
	EAGAIN
	EALREADY
	EBADF
	EBADMSG
	EBUSY
	ECANCELED
	ECHILD
	ECONNABORTED
	ECONNREFUSED
	ECONNRESET
	EDEADLK
	EDESTADDRREQ
	EDOM
	EDQUOT
	EEXIST
	EFAULT
	EFBIG
	EHOSTUNREACH
	EIDRM
	EILSEQ
	EINPROGRESS
	EINTR
	EINVAL
	EIO
	EISCONN
	EISDIR
	ELOOP
	EMFILE
	EMLINK
	EMSGSIZE
	EMULTIHOP
	ENAMETOOLONG
	ENETDOWN
	ENETRESET
	ENETUNREACH
	ENFILE
	ENOBUFS
	ENODEV
	ENOENT
	ENOEXEC
	ENOLCK
	ENOLINK
	ENOMEM
	ENOMSG
	ENOPROTOOPT
	ENOSPC
	ENOSYS
	ENOTCONN
	ENOTDIR
	ENOTEMPTY
	ENOTRECOVERABLE
	ENOTSOCK
	ENOTSUP
	ENOTTY
	ENXIO
	EOVERFLOW
	EOWNERDEAD
	EPERM
	EPIPE
	EPROTO
	EPROTONOSUPPORT
	EPROTOTYPE
	ERANGE
	EROFS
	ESPIPE
	ESRCH
	ESTALE
	ETIMEDOUT
	ETXTBSY
	EXDEV
	ENOTCAPABLE

	// getaddrinfo errors of the WasmEdge socket extension.
	EAI_ADDRFAMILY
	EAI_AGAIN
	EAI_BADFLAG
	EAI_FAIL
	EAI_FAMILY
	EAI_MEMORY
	EAI_NODATA
	EAI_NONAME
	EAI_SERVICE
	EAI_SOCKTYPE
	EAI_SYSTEM
)

var errnoNames = [...]string{
	"ESUCCESS", "E2BIG", "EACCES", "EADDRINUSE", "EADDRNOTAVAIL", "EAFNOSUPPORT",
	"EAGAIN", "EALREADY", "EBADF", "EBADMSG", "EBUSY", "ECANCELED", "ECHILD",
	"ECONNABORTED", "ECONNREFUSED", "ECONNRESET", "EDEADLK", "EDESTADDRREQ", "EDOM",
	"EDQUOT", "EEXIST", "EFAULT", "EFBIG", "EHOSTUNREACH", "EIDRM", "EILSEQ",
	"EINPROGRESS", "EINTR", "EINVAL", "EIO", "EISCONN", "EISDIR", "ELOOP", "EMFILE",
	"EMLINK", "EMSGSIZE", "EMULTIHOP", "ENAMETOOLONG", "ENETDOWN", "ENETRESET",
	"ENETUNREACH", "ENFILE", "ENOBUFS", "ENODEV", "ENOENT", "ENOEXEC", "ENOLCK",
	"ENOLINK", "ENOMEM", "ENOMSG", "ENOPROTOOPT", "ENOSPC", "ENOSYS", "ENOTCONN",
	"ENOTDIR", "ENOTEMPTY", "ENOTRECOVERABLE", "ENOTSOCK", "ENOTSUP", "ENOTTY",
	"ENXIO", "EOVERFLOW", "EOWNERDEAD", "EPERM", "EPIPE", "EPROTO",
	"EPROTONOSUPPORT", "EPROTOTYPE", "ERANGE", "EROFS", "ESPIPE", "ESRCH", "ESTALE",
	"ETIMEDOUT", "ETXTBSY", "EXDEV", "ENOTCAPABLE",
	"EAI_ADDRFAMILY", "EAI_AGAIN", "EAI_BADFLAG", "EAI_FAIL", "EAI_FAMILY",
	"EAI_MEMORY", "EAI_NODATA", "EAI_NONAME", "EAI_SERVICE", "EAI_SOCKTYPE",
	"EAI_SYSTEM",
}

// Name returns the errno's symbolic name, e.g. "EBADF".
func (e Errno) Name() string {
	if int(e) < len(errnoNames) {
		return errnoNames[e]
	}
	return "errno(" + itoa(int(e)) + ")"
}

// Error implements error, so an Errno can travel through Go error values.
func (e Errno) Error() string { return e.Name() }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}

// hostErrnos maps Linux errnos to WASI errnos. Anything missing becomes EIO.
var hostErrnos = map[syscall.Errno]Errno{
	syscall.E2BIG:           E2BIG,
	syscall.EACCES:          EACCES,
	syscall.EADDRINUSE:      EADDRINUSE,
	syscall.EADDRNOTAVAIL:   EADDRNOTAVAIL,
	syscall.EAFNOSUPPORT:    EAFNOSUPPORT,
	syscall.EAGAIN:          EAGAIN,
	syscall.EALREADY:        EALREADY,
	syscall.EBADF:           EBADF,
	syscall.EBADMSG:         EBADMSG,
	syscall.EBUSY:           EBUSY,
	syscall.ECANCELED:       ECANCELED,
	syscall.ECHILD:          ECHILD,
	syscall.ECONNABORTED:    ECONNABORTED,
	syscall.ECONNREFUSED:    ECONNREFUSED,
	syscall.ECONNRESET:      ECONNRESET,
	syscall.EDEADLK:         EDEADLK,
	syscall.EDESTADDRREQ:    EDESTADDRREQ,
	syscall.EDOM:            EDOM,
	syscall.EDQUOT:          EDQUOT,
	syscall.EEXIST:          EEXIST,
	syscall.EFAULT:          EFAULT,
	syscall.EFBIG:           EFBIG,
	syscall.EHOSTUNREACH:    EHOSTUNREACH,
	syscall.EHOSTDOWN:       EHOSTUNREACH,
	syscall.EIDRM:           EIDRM,
	syscall.EILSEQ:          EILSEQ,
	syscall.EINPROGRESS:     EINPROGRESS,
	syscall.EINTR:           EINTR,
	syscall.EINVAL:          EINVAL,
	syscall.EIO:             EIO,
	syscall.EISCONN:         EISCONN,
	syscall.EISDIR:          EISDIR,
	syscall.ELOOP:           ELOOP,
	syscall.EMFILE:          EMFILE,
	syscall.EMLINK:          EMLINK,
	syscall.EMSGSIZE:        EMSGSIZE,
	syscall.EMULTIHOP:       EMULTIHOP,
	syscall.ENAMETOOLONG:    ENAMETOOLONG,
	syscall.ENETDOWN:        ENETDOWN,
	syscall.ENETRESET:       ENETRESET,
	syscall.ENETUNREACH:     ENETUNREACH,
	syscall.ENFILE:          ENFILE,
	syscall.ENOBUFS:         ENOBUFS,
	syscall.ENODEV:          ENODEV,
	syscall.ENOENT:          ENOENT,
	syscall.ENOEXEC:         ENOEXEC,
	syscall.ENOLCK:          ENOLCK,
	syscall.ENOLINK:         ENOLINK,
	syscall.ENOMEM:          ENOMEM,
	syscall.ENOMSG:          ENOMSG,
	syscall.ENOPROTOOPT:     ENOPROTOOPT,
	syscall.ENOSPC:          ENOSPC,
	syscall.ENOSYS:          ENOSYS,
	syscall.ENOTCONN:        ENOTCONN,
	syscall.ENOTDIR:         ENOTDIR,
	syscall.ENOTEMPTY:       ENOTEMPTY,
	syscall.ENOTRECOVERABLE: ENOTRECOVERABLE,
	syscall.ENOTSOCK:        ENOTSOCK,
	syscall.ENOTSUP:         ENOTSUP, // == EOPNOTSUPP on Linux
	syscall.ENOTTY:          ENOTTY,
	syscall.ENXIO:           ENXIO,
	syscall.EOVERFLOW:       EOVERFLOW,
	syscall.EOWNERDEAD:      EOWNERDEAD,
	syscall.EPERM:           EPERM,
	syscall.EPIPE:           EPIPE,
	syscall.EPROTO:          EPROTO,
	syscall.EPROTONOSUPPORT: EPROTONOSUPPORT,
	syscall.EPROTOTYPE:      EPROTOTYPE,
	syscall.ERANGE:          ERANGE,
	syscall.EROFS:           EROFS,
	syscall.ESPIPE:          ESPIPE,
	syscall.ESRCH:           ESRCH,
	syscall.ESTALE:          ESTALE,
	syscall.ETIMEDOUT:       ETIMEDOUT,
	syscall.ETXTBSY:         ETXTBSY,
	syscall.EXDEV:           EXDEV,
}

// ErrnoFromError converts a host error to a WASI errno. nil is ESUCCESS and
// anything unrecognised is EIO, so a guest never sees a host-only value.
func ErrnoFromError(err error) Errno {
	if err == nil {
		return ESUCCESS
	}
	var e Errno
	if errors.As(err, &e) {
		return e
	}
	var se syscall.Errno
	if errors.As(err, &se) {
		if se == 0 {
			return ESUCCESS
		}
		if w, ok := hostErrnos[se]; ok {
			return w
		}
		return EIO
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ENOENT
	case errors.Is(err, fs.ErrExist):
		return EEXIST
	case errors.Is(err, fs.ErrPermission):
		return EPERM
	case errors.Is(err, fs.ErrClosed), errors.Is(err, os.ErrClosed):
		return EBADF
	case errors.Is(err, os.ErrDeadlineExceeded):
		return EAGAIN
	}
	return EIO
}
