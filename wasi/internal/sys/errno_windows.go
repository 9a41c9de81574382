package sys

import (
	"errors"
	"strings"
	"syscall"

	"golang.org/x/sys/windows"
)

// Windows' errors and Winsock's, as WASI errnos. They are added to
// hostErrnos, whose syscall.Errno values on Windows are Go's own
// invented numbers (none of which is a Windows code).
var windowsErrnos = map[syscall.Errno]Errno{
	windows.ERROR_FILE_NOT_FOUND:          ENOENT,
	windows.ERROR_PATH_NOT_FOUND:          ENOENT,
	windows.ERROR_TOO_MANY_OPEN_FILES:     EMFILE,
	windows.ERROR_ACCESS_DENIED:           EACCES,
	windows.ERROR_INVALID_HANDLE:          EBADF,
	windows.ERROR_NOT_ENOUGH_MEMORY:       ENOMEM,
	windows.ERROR_OUTOFMEMORY:             ENOMEM,
	windows.ERROR_INVALID_DRIVE:           ENOENT,
	windows.ERROR_NOT_SAME_DEVICE:         EXDEV,
	windows.ERROR_WRITE_PROTECT:           EROFS,
	windows.ERROR_SHARING_VIOLATION:       EBUSY,
	windows.ERROR_LOCK_VIOLATION:          EBUSY,
	windows.ERROR_HANDLE_DISK_FULL:        ENOSPC,
	windows.ERROR_DISK_FULL:               ENOSPC,
	windows.ERROR_NOT_SUPPORTED:           ENOTSUP,
	windows.ERROR_BAD_NETPATH:             ENOENT,
	windows.ERROR_FILE_EXISTS:             EEXIST,
	windows.ERROR_ALREADY_EXISTS:          EEXIST,
	windows.ERROR_INVALID_PARAMETER:       EINVAL,
	windows.ERROR_BROKEN_PIPE:             EPIPE,
	windows.ERROR_NO_DATA:                 EPIPE,
	windows.ERROR_PIPE_NOT_CONNECTED:      EPIPE,
	windows.ERROR_INVALID_NAME:            ENOENT,
	windows.ERROR_NEGATIVE_SEEK:           EINVAL,
	windows.ERROR_DIR_NOT_EMPTY:           ENOTEMPTY,
	windows.ERROR_BAD_PATHNAME:            ENOENT,
	windows.ERROR_FILENAME_EXCED_RANGE:    ENAMETOOLONG,
	windows.ERROR_DIRECTORY:               ENOTDIR,
	windows.ERROR_PRIVILEGE_NOT_HELD:      EPERM,
	windows.ERROR_CANT_RESOLVE_FILENAME:   ELOOP,
	windows.ERROR_NOT_A_REPARSE_POINT:     EINVAL,
	windows.ERROR_NO_UNICODE_TRANSLATION:  EILSEQ,
	windows.ERROR_IO_PENDING:              EAGAIN,
	windows.ERROR_OPERATION_ABORTED:       ECANCELED,
	windows.ERROR_NOACCESS:                EFAULT,
	windows.ERROR_DIRECTORY_NOT_SUPPORTED: EISDIR,

	windows.WSAEINTR:           EINTR,
	windows.WSAEBADF:           EBADF,
	windows.WSAEACCES:          EACCES,
	windows.WSAEFAULT:          EFAULT,
	windows.WSAEINVAL:          EINVAL,
	windows.WSAEMFILE:          EMFILE,
	windows.WSAEWOULDBLOCK:     EAGAIN,
	windows.WSAEINPROGRESS:     EINPROGRESS,
	windows.WSAEALREADY:        EALREADY,
	windows.WSAENOTSOCK:        ENOTSOCK,
	windows.WSAEDESTADDRREQ:    EDESTADDRREQ,
	windows.WSAEMSGSIZE:        EMSGSIZE,
	windows.WSAEPROTOTYPE:      EPROTOTYPE,
	windows.WSAENOPROTOOPT:     ENOPROTOOPT,
	windows.WSAEPROTONOSUPPORT: EPROTONOSUPPORT,
	windows.WSAESOCKTNOSUPPORT: EPROTONOSUPPORT,
	windows.WSAEOPNOTSUPP:      ENOTSUP,
	windows.WSAEPFNOSUPPORT:    EAFNOSUPPORT,
	windows.WSAEAFNOSUPPORT:    EAFNOSUPPORT,
	windows.WSAEADDRINUSE:      EADDRINUSE,
	windows.WSAEADDRNOTAVAIL:   EADDRNOTAVAIL,
	windows.WSAENETDOWN:        ENETDOWN,
	windows.WSAENETUNREACH:     ENETUNREACH,
	windows.WSAENETRESET:       ENETRESET,
	windows.WSAECONNABORTED:    ECONNABORTED,
	windows.WSAECONNRESET:      ECONNRESET,
	windows.WSAENOBUFS:         ENOBUFS,
	windows.WSAEISCONN:         EISCONN,
	windows.WSAENOTCONN:        ENOTCONN,
	windows.WSAESHUTDOWN:       EPIPE,
	windows.WSAETIMEDOUT:       ETIMEDOUT,
	windows.WSAECONNREFUSED:    ECONNREFUSED,
	windows.WSAELOOP:           ELOOP,
	windows.WSAENAMETOOLONG:    ENAMETOOLONG,
	windows.WSAEHOSTDOWN:       EHOSTUNREACH,
	windows.WSAEHOSTUNREACH:    EHOSTUNREACH,
}

func init() {
	for k, v := range windowsErrnos {
		hostErrnos[k] = v
	}
}

// fileErrno converts the error of a file operation: os.Root's refusal of
// a path that leaves it is ENOTCAPABLE, as Linux's backend answers an
// escape; the rest is ErrnoFromError's.
func fileErrno(err error) Errno {
	var se syscall.Errno
	if err != nil && !errors.As(err, &se) && strings.Contains(err.Error(), "path escapes from parent") {
		return ENOTCAPABLE
	}
	return ErrnoFromError(err)
}
