//go:build linux

package sys

import "golang.org/x/sys/unix"

// The few host calls whose form differs between Linux and macOS; the
// shared code in the _unix.go files calls these.

// soBindtodevice is SO_BINDTODEVICE.
const soBindtodevice = unix.SO_BINDTODEVICE

// utimeNow and utimeOmit are utimensat's special nanosecond values.
const (
	utimeNow  = unix.UTIME_NOW
	utimeOmit = unix.UTIME_OMIT
)

// pipeCloexec is pipe2(O_CLOEXEC).
func pipeCloexec(p []int) error { return unix.Pipe2(p, unix.O_CLOEXEC) }

// socketCloexec is socket(2) with SOCK_CLOEXEC.
func socketCloexec(domain, typ int) (int, error) {
	return unix.Socket(domain, typ|unix.SOCK_CLOEXEC, 0)
}

// accept is accept4 with SOCK_CLOEXEC, and SOCK_NONBLOCK when nonblock.
func accept(fd int, nonblock bool) (int, error) {
	flags := unix.SOCK_CLOEXEC
	if nonblock {
		flags |= unix.SOCK_NONBLOCK
	}
	nfd, _, err := unix.Accept4(fd, flags)
	return nfd, err
}

// fadvise is posix_fadvise with a preview1 advice (0..5).
func fadvise(fd int, off, length int64, advice uint8) error {
	host := [...]int{
		AdviceNormal:     unix.FADV_NORMAL,
		AdviceSequential: unix.FADV_SEQUENTIAL,
		AdviceRandom:     unix.FADV_RANDOM,
		AdviceWillNeed:   unix.FADV_WILLNEED,
		AdviceDontNeed:   unix.FADV_DONTNEED,
		AdviceNoReuse:    unix.FADV_NOREUSE,
	}
	return unix.Fadvise(fd, off, length, host[advice])
}

// fdatasync is fdatasync(2).
func fdatasync(fd int) error { return unix.Fdatasync(fd) }

// closedStream reports whether TCP socket fd is closed: its connect
// failed (or it never had one).
func closedStream(fd int) bool {
	info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	return err == nil && info.State == 7 // TCP_CLOSE
}
