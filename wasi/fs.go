package wasi

import (
	"context"
	"math"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// File and directory descriptor functions (fd_*) other than the basic I/O in
// fd.go. Each decodes its parameters, checks result pointers before doing
// anything with a side effect, calls the system layer and writes results.

func init() {
	register(
		newFuncTyped("fd_advise", fdAdvise, "fd", "offset:i64", "len:i64", "advice"),
		newFuncTyped("fd_allocate", fdAllocate, "fd", "offset:i64", "len:i64"),
		newFunc("fd_datasync", fdDatasync, "fd"),
		newFunc("fd_fdstat_set_flags", fdFdstatSetFlags, "fd", "flags"),
		newFuncTyped("fd_fdstat_set_rights", fdFdstatSetRights, "fd", "fs_rights_base:i64", "fs_rights_inheriting:i64"),
		newFunc("fd_filestat_get", fdFilestatGet, "fd", "result.filestat"),
		newFuncTyped("fd_filestat_set_size", fdFilestatSetSize, "fd", "size:i64"),
		newFuncTyped("fd_filestat_set_times", fdFilestatSetTimes, "fd", "atim:i64", "mtim:i64", "fst_flags"),
		newFuncTyped("fd_pread", fdPread, "fd", "iovs", "iovs_len", "offset:i64", "result.nread"),
		newFuncTyped("fd_pwrite", fdPwrite, "fd", "iovs", "iovs_len", "offset:i64", "result.nwritten"),
		newFuncTyped("fd_readdir", fdReaddir, "fd", "buf", "buf_len", "cookie:i64", "result.bufused"),
		newFunc("fd_renumber", fdRenumber, "fd", "to"),
		newFuncTyped("fd_seek", fdSeek, "fd", "offset:i64", "whence", "result.newoffset"),
		newFunc("fd_sync", fdSync, "fd"),
		newFunc("fd_tell", fdTell, "fd", "result.offset"),
	)
}

// filestatSize is the size of a preview1 filestat: dev u64 @0, ino u64 @8,
// filetype u8 @16, nlink u64 @24, size u64 @32, atim u64 @40, mtim u64 @48,
// ctim u64 @56.
const filestatSize = 64

// putFilestat writes st into buf (filestatSize bytes), padding included.
func putFilestat(buf []byte, st sys.Filestat) {
	clear(buf[:filestatSize])
	putLe64(buf[0:], st.Dev)
	putLe64(buf[8:], st.Ino)
	buf[16] = byte(st.Type)
	putLe64(buf[24:], st.Nlink)
	putLe64(buf[32:], st.Size)
	putLe64(buf[40:], st.Atim)
	putLe64(buf[48:], st.Mtim)
	putLe64(buf[56:], st.Ctim)
}

// u16Param returns an i32 parameter that holds a u16 flag set, or EINVAL
// when bits above 16 are set.
func u16Param(v uint64) (uint16, sys.Errno) {
	if uint32(v) > math.MaxUint16 {
		return 0, sys.EINVAL
	}
	return uint16(v), sys.ESUCCESS
}

// fdAdvise passes an access-pattern hint for [offset, offset+len).
// advice: 0 NORMAL, 1 SEQUENTIAL, 2 RANDOM, 3 WILLNEED, 4 DONTNEED, 5 NOREUSE.
// Errors: EBADF, ENOTCAPABLE (no FD_ADVISE), EINVAL (unknown advice or an
// offset/len above 2^63-1), ESPIPE (pipe). POSIX: posix_fadvise.
func fdAdvise(_ context.Context, h *Host, _ api.Module, p []uint64) sys.Errno {
	advice := uint32(p[3])
	if advice > math.MaxUint8 {
		advice = math.MaxUint8 // out of range either way: EINVAL
	}
	return h.sys.Advise(int32(p[0]), p[1], p[2], uint8(advice))
}

// fdAllocate makes sure [offset, offset+len) is allocated, extending the
// file if needed. Errors: EBADF, ENOTCAPABLE (no FD_ALLOCATE), EINVAL (len 0
// or range overflow), EISDIR, ENOTSUP (file system without it), ENOSPC.
// POSIX: posix_fallocate.
func fdAllocate(_ context.Context, h *Host, _ api.Module, p []uint64) sys.Errno {
	return h.sys.Allocate(int32(p[0]), p[1], p[2])
}

// fdDatasync flushes fd's data. Errors: EBADF, ENOTCAPABLE (no
// FD_DATASYNC), EIO. POSIX: fdatasync.
func fdDatasync(_ context.Context, h *Host, _ api.Module, p []uint64) sys.Errno {
	return h.sys.Datasync(int32(p[0]))
}

// fdSync flushes fd's data and metadata. Errors: EBADF, ENOTCAPABLE (no
// FD_SYNC), EIO. POSIX: fsync.
func fdSync(_ context.Context, h *Host, _ api.Module, p []uint64) sys.Errno {
	return h.sys.Sync(int32(p[0]))
}

// fdFdstatSetFlags sets fd's fdflags (APPEND=1, DSYNC=2, NONBLOCK=4,
// RSYNC=8, SYNC=16). Errors: EBADF, ENOTCAPABLE (no FD_FDSTAT_SET_FLAGS),
// EINVAL (unknown bits), ENOTSUP (changing a sync flag, which Linux cannot
// do after open). POSIX: fcntl(F_SETFL).
func fdFdstatSetFlags(_ context.Context, h *Host, _ api.Module, p []uint64) sys.Errno {
	flags, errno := u16Param(p[1])
	if errno != 0 {
		return errno
	}
	return h.sys.SetFlags(int32(p[0]), sys.Fdflags(flags))
}

// fdFdstatSetRights narrows fd's base and inheriting rights. Errors: EBADF,
// ENOTCAPABLE (a right fd does not already have). POSIX: none (capsicum's
// cap_rights_limit).
func fdFdstatSetRights(_ context.Context, h *Host, _ api.Module, p []uint64) sys.Errno {
	return h.sys.SetRights(int32(p[0]), sys.Rights(p[1]), sys.Rights(p[2]))
}

// fdFilestatGet writes fd's 64-byte filestat at result.filestat.
// Errors: EBADF, ENOTCAPABLE (no FD_FILESTAT_GET), EFAULT. POSIX: fstat.
func fdFilestatGet(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	buf, errno := view(mod.Memory(), uint32(p[1]), filestatSize)
	if errno != 0 {
		return errno
	}
	st, errno := h.sys.Filestat(int32(p[0]))
	if errno != 0 {
		return errno
	}
	putFilestat(buf, st)
	return sys.ESUCCESS
}

// fdFilestatSetSize truncates or extends fd's file to size. Errors: EBADF,
// ENOTCAPABLE (no FD_FILESTAT_SET_SIZE), EISDIR, EINVAL (size above
// 2^63-1), EFBIG. POSIX: ftruncate.
func fdFilestatSetSize(_ context.Context, h *Host, _ api.Module, p []uint64) sys.Errno {
	return h.sys.SetSize(int32(p[0]), p[1])
}

// fdFilestatSetTimes sets fd's access and/or modification time. fst_flags:
// ATIM=1 (use atim), ATIM_NOW=2, MTIM=4 (use mtim), MTIM_NOW=8; a time with
// neither flag is left alone. Errors: EBADF, ENOTCAPABLE (no
// FD_FILESTAT_SET_TIMES), EINVAL (ATIM with ATIM_NOW, MTIM with MTIM_NOW,
// unknown bits). POSIX: futimens.
func fdFilestatSetTimes(_ context.Context, h *Host, _ api.Module, p []uint64) sys.Errno {
	fst, errno := u16Param(p[3])
	if errno != 0 {
		return errno
	}
	return h.sys.SetTimes(int32(p[0]), p[1], p[2], sys.Fstflags(fst))
}

// fdPread reads into the iovecs at offset without moving the position and
// writes the byte count at result.nread. Errors: EBADF, ENOTCAPABLE (no
// FD_READ), EISDIR, ESPIPE (pipe, socket), EINVAL (offset above 2^63-1 or
// too many iovecs), EFAULT. POSIX: preadv.
func fdPread(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	off := p[3]
	return h.fdIO(mod.Memory(), func(fd int32, bufs [][]byte) (uint32, sys.Errno) {
		return h.sys.Pread(fd, bufs, off)
	}, []uint64{p[0], p[1], p[2], p[4]})
}

// fdPwrite writes the iovecs at offset without moving the position and
// writes the byte count at result.nwritten. On an APPEND descriptor the data
// is appended, as on Linux. Errors: as fdPread with FD_WRITE, plus ENOSPC,
// EFBIG. POSIX: pwritev.
func fdPwrite(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	off := p[3]
	return h.fdIO(mod.Memory(), func(fd int32, bufs [][]byte) (uint32, sys.Errno) {
		return h.sys.Pwrite(fd, bufs, off)
	}, []uint64{p[0], p[1], p[2], p[4]})
}

// direntSize is the size of a preview1 dirent header: d_next u64 @0, d_ino
// u64 @8, d_namlen u32 @16, d_type u8 @20; the name follows, unterminated.
const direntSize = 24

// fdReaddir fills buf with dirents starting at cookie (0 = start; each
// entry's d_next is the cookie of the one after) and writes the number of
// bytes used at result.bufused. Entries are packed until buf is full; the
// last one is cut off at buf_len, header included, so bufused == buf_len
// tells the guest to read on (with a bigger buffer if one entry did not
// fit). bufused < buf_len means the end was reached. "." and ".." are
// included. Errors: EBADF, ENOTCAPABLE (no FD_READDIR), ENOTDIR, EFAULT.
// POSIX: fdopendir, seekdir, readdir.
func fdReaddir(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	mem := mod.Memory()
	bufPtr, bufLen, cookie, resultUsed := uint32(p[1]), uint32(p[2]), p[3], uint32(p[4])
	buf, errno := view(mem, bufPtr, bufLen)
	if errno != 0 {
		return errno
	}
	if errno := writable(mem, 4, resultUsed); errno != 0 {
		return errno
	}
	entries, errno := h.sys.Readdir(int32(p[0]), cookie)
	if errno != 0 {
		return errno
	}
	used := 0
	var hdr [direntSize]byte
	for i, e := range entries {
		if used == len(buf) {
			break
		}
		clear(hdr[:])
		putLe64(hdr[0:], cookie+uint64(i)+1)
		putLe64(hdr[8:], e.Ino)
		putLe32(hdr[16:], uint32(len(e.Name)))
		hdr[20] = byte(e.Type)
		used += copy(buf[used:], hdr[:])
		used += copy(buf[used:], e.Name)
	}
	return writeU32(mem, resultUsed, uint32(used))
}

// fdRenumber moves fd to number to, closing what was open there. Both must
// be open; preopens may be moved or replaced. Errors: EBADF. POSIX: dup2
// then close.
func fdRenumber(_ context.Context, h *Host, _ api.Module, p []uint64) sys.Errno {
	return h.sys.Renumber(int32(p[0]), int32(p[1]))
}

// fdSeek moves fd's position by offset (signed) from whence (SET=0, CUR=1,
// END=2) and writes the new position at result.newoffset. Needs FD_SEEK, or
// FD_TELL alone for offset 0 from CUR. Errors: EBADF, ENOTCAPABLE, ESPIPE
// (pipe, socket, terminal), EINVAL (bad whence, negative result), EFAULT.
// POSIX: lseek.
func fdSeek(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	mem := mod.Memory()
	result := uint32(p[3])
	if errno := writable(mem, 8, result); errno != 0 {
		return errno
	}
	whence := uint32(p[2])
	if whence > sys.WhenceEnd {
		return sys.EINVAL
	}
	pos, errno := h.sys.Seek(int32(p[0]), int64(p[1]), uint8(whence))
	if errno != 0 {
		return errno
	}
	return writeU64(mem, result, pos)
}

// fdTell writes fd's position at result.offset. Errors: EBADF,
// ENOTCAPABLE (no FD_TELL), ESPIPE, EFAULT. POSIX: lseek(fd, 0, SEEK_CUR).
func fdTell(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	mem := mod.Memory()
	result := uint32(p[1])
	if errno := writable(mem, 8, result); errno != 0 {
		return errno
	}
	pos, errno := h.sys.Tell(int32(p[0]))
	if errno != 0 {
		return errno
	}
	return writeU64(mem, result, pos)
}
