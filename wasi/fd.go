package wasi

import (
	"context"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

func init() {
	register(
		newFunc("fd_read", fdRead, "fd", "iovs", "iovs_len", "result.nread"),
		newFunc("fd_write", fdWrite, "fd", "iovs", "iovs_len", "result.nwritten"),
		newFunc("fd_close", fdClose, "fd"),
		newFunc("fd_fdstat_get", fdFdstatGet, "fd", "result.stat"),
		newFunc("fd_prestat_get", fdPrestatGet, "fd", "result.prestat"),
		newFunc("fd_prestat_dir_name", fdPrestatDirName, "fd", "path", "path_len"),
	)
}

// fdRead reads into the iovecs at iovs and writes the byte count at nread.
// Errors: EBADF (not open), ENOTCAPABLE (no FD_READ), EISDIR, EAGAIN
// (non-blocking and nothing to read), EFAULT (bad iovecs or nread).
// POSIX: readv.
func fdRead(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	return h.fdIO(mod.Memory(), h.sys.Read, p)
}

// fdWrite writes the iovecs at iovs and the byte count at nwritten.
// Errors: as fdRead, plus EPIPE. POSIX: writev.
func fdWrite(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	return h.fdIO(mod.Memory(), h.sys.Write, p)
}

// fdIO decodes (fd, iovs, iovs_len, result) and runs op over the iovecs,
// checking the result pointer first so a fault never loses data.
func (h *Host) fdIO(mem api.Memory, op func(int32, [][]byte) (uint32, sys.Errno), p []uint64) sys.Errno {
	fd, iovs, n, resultN := int32(p[0]), uint32(p[1]), uint32(p[2]), uint32(p[3])
	if errno := writable(mem, 4, resultN); errno != 0 {
		return errno
	}
	bufs, errno := h.readIovecs(mem, iovs, n)
	if errno != 0 {
		return errno
	}
	done, errno := op(fd, bufs)
	h.doneIovecs()
	if errno != 0 {
		return errno
	}
	return writeU32(mem, resultN, done)
}

// fdClose closes fd. Errors: EBADF. POSIX: close.
func fdClose(_ context.Context, h *Host, _ api.Module, p []uint64) sys.Errno {
	return h.sys.CloseFD(int32(p[0]))
}

// fdFdstatGet writes the 24-byte fdstat of fd: filetype u8 @0, flags u16 @2,
// rights_base u64 @8, rights_inheriting u64 @16.
// Errors: EBADF, EFAULT. POSIX: fcntl(F_GETFL) and fstat.
func fdFdstatGet(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	buf, errno := view(mod.Memory(), uint32(p[1]), 24)
	if errno != 0 {
		return errno
	}
	f, errno := h.sys.Lookup(int32(p[0]))
	if errno != 0 {
		return errno
	}
	clear(buf)
	buf[0] = byte(f.Type)
	putLe16(buf[2:], uint16(f.Flags))
	putLe64(buf[8:], uint64(f.RightsBase))
	putLe64(buf[16:], uint64(f.RightsInheriting))
	return sys.ESUCCESS
}

// fdPrestatGet writes the 8-byte prestat of a preopened directory: tag u8
// @0 (0 = dir), name length u32 @4.
// Errors: EBADF when fd is not open or not a preopen (wasi-libc stops its
// preopen scan at the first EBADF), EFAULT.
func fdPrestatGet(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	buf, errno := view(mod.Memory(), uint32(p[1]), 8)
	if errno != 0 {
		return errno
	}
	f, errno := h.sys.Lookup(int32(p[0]))
	if errno != 0 {
		return errno
	}
	if !f.IsPreopen() {
		return sys.EBADF
	}
	clear(buf)
	putLe32(buf[4:], uint32(len(f.Preopen)))
	return sys.ESUCCESS
}

// fdPrestatDirName writes the preopen's guest path (no NUL) at path.
// Errors: EBADF as fdPrestatGet, ENAMETOOLONG when path_len is shorter than
// the name, EFAULT.
func fdPrestatDirName(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	f, errno := h.sys.Lookup(int32(p[0]))
	if errno != 0 {
		return errno
	}
	if !f.IsPreopen() {
		return sys.EBADF
	}
	n := uint32(p[2])
	if n < uint32(len(f.Preopen)) {
		return sys.ENAMETOOLONG
	}
	buf, errno := view(mod.Memory(), uint32(p[1]), uint32(len(f.Preopen)))
	if errno != 0 {
		return errno
	}
	copy(buf, f.Preopen)
	return sys.ESUCCESS
}
