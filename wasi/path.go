package wasi

import (
	"context"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// Path functions (path_*). Every path is relative to a directory descriptor
// and resolved by the kernel so that it cannot leave that directory (see
// wasi/internal/sys/path_linux.go). Errnos common to all of them:
//
//   - EBADF: the directory descriptor is not open.
//   - ENOTDIR: it is not a directory, or a middle component is not one.
//   - ENOTCAPABLE: it lacks the right the function needs; or the path is
//     absolute, or leads out of the directory through "..", an absolute
//     symlink or a symlink pointing outside (what wasmtime and uvwasi give
//     for capability violations).
//   - ELOOP: too many symlinks (a loop), or a final symlink where one may
//     not be followed.
//   - ENOENT: empty path or missing component. EINVAL: NUL byte in a path.
//   - EFAULT: a path, buffer or result pointer is outside guest memory.

func init() {
	register(
		newFunc("path_create_directory", pathCreateDirectory, "fd", "path", "path_len"),
		newFunc("path_filestat_get", pathFilestatGet, "fd", "flags", "path", "path_len", "result.filestat"),
		newFuncTyped("path_filestat_set_times", pathFilestatSetTimes, "fd", "flags", "path", "path_len", "atim:i64", "mtim:i64", "fst_flags"),
		newFunc("path_link", pathLink, "old_fd", "old_flags", "old_path", "old_path_len", "new_fd", "new_path", "new_path_len"),
		newFuncTyped("path_open", pathOpen, "fd", "dirflags", "path", "path_len", "oflags", "fs_rights_base:i64", "fs_rights_inheriting:i64", "fdflags", "result.opened_fd"),
		newFunc("path_readlink", pathReadlink, "fd", "path", "path_len", "buf", "buf_len", "result.bufused"),
		newFunc("path_remove_directory", pathRemoveDirectory, "fd", "path", "path_len"),
		newFunc("path_rename", pathRename, "fd", "old_path", "old_path_len", "new_fd", "new_path", "new_path_len"),
		newFunc("path_symlink", pathSymlink, "old_path", "old_path_len", "fd", "new_path", "new_path_len"),
		newFunc("path_unlink_file", pathUnlinkFile, "fd", "path", "path_len"),
	)
}

// pathCreateDirectory makes a directory. Errors: the common ones (right:
// PATH_CREATE_DIRECTORY), EEXIST (also for "." and ".."). POSIX: mkdirat.
func pathCreateDirectory(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	path, errno := readString(mod.Memory(), uint32(p[1]), uint32(p[2]))
	if errno != 0 {
		return errno
	}
	return h.sys.CreateDirectory(int32(p[0]), path)
}

// pathFilestatGet writes the 64-byte filestat (layout as fd_filestat_get)
// of path at result.filestat; flags bit 0 (SYMLINK_FOLLOW) follows a final
// symlink. Errors: the common ones (right: PATH_FILESTAT_GET), EINVAL
// (unknown flags). POSIX: fstatat.
func pathFilestatGet(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	mem := mod.Memory()
	buf, errno := view(mem, uint32(p[4]), filestatSize)
	if errno != 0 {
		return errno
	}
	path, errno := readString(mem, uint32(p[2]), uint32(p[3]))
	if errno != 0 {
		return errno
	}
	st, errno := h.sys.PathFilestat(int32(p[0]), sys.Lookupflags(uint32(p[1])), path)
	if errno != 0 {
		return errno
	}
	putFilestat(buf, st)
	return sys.ESUCCESS
}

// pathFilestatSetTimes sets the times of path, fst_flags as in
// fd_filestat_set_times; flags bit 0 follows a final symlink (otherwise the
// link's own times are set). Errors: the common ones (right:
// PATH_FILESTAT_SET_TIMES), EINVAL (bad fst_flags or flags).
// POSIX: utimensat.
func pathFilestatSetTimes(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	path, errno := readString(mod.Memory(), uint32(p[2]), uint32(p[3]))
	if errno != 0 {
		return errno
	}
	fst, errno := u16Param(p[6])
	if errno != 0 {
		return errno
	}
	return h.sys.PathSetTimes(int32(p[0]), sys.Lookupflags(uint32(p[1])), path, p[4], p[5], sys.Fstflags(fst))
}

// pathLink makes new_path (beneath new_fd) a hard link to old_path
// (beneath old_fd); old_flags bit 0 follows a final symlink in old_path,
// still never leaving old_fd. Errors: the common ones (rights:
// PATH_LINK_SOURCE on old_fd, PATH_LINK_TARGET on new_fd), EEXIST, EPERM
// (directory), EXDEV (different file systems). POSIX: linkat.
func pathLink(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	mem := mod.Memory()
	oldPath, errno := readString(mem, uint32(p[2]), uint32(p[3]))
	if errno != 0 {
		return errno
	}
	newPath, errno := readString(mem, uint32(p[5]), uint32(p[6]))
	if errno != 0 {
		return errno
	}
	return h.sys.Link(int32(p[0]), sys.Lookupflags(uint32(p[1])), oldPath, int32(p[4]), newPath)
}

// pathOpen opens path beneath fd and writes the new descriptor at
// result.opened_fd. dirflags bit 0 follows a final symlink (otherwise a
// final symlink is ELOOP). oflags: CREAT=1, DIRECTORY=2, EXCL=4, TRUNC=8.
// The host open mode comes from the requested rights (FD_WRITE: write;
// FD_READ or FD_READDIR: read); the new descriptor gets the requested
// rights narrowed to fd's inheriting rights and to what its type can carry.
// fdflags as fd_fdstat_set_flags. Errors: the common ones (rights:
// PATH_OPEN, plus PATH_CREATE_FILE for CREAT and PATH_FILESTAT_SET_SIZE for
// TRUNC), EEXIST (CREAT|EXCL), EISDIR (write access to a directory),
// ENOTDIR (DIRECTORY on a non-directory), EINVAL (unknown flag bits),
// EMFILE. POSIX: openat.
func pathOpen(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	mem := mod.Memory()
	result := uint32(p[8])
	// Checked first so a fault can never leak an opened descriptor.
	if errno := writable(mem, 4, result); errno != 0 {
		return errno
	}
	path, errno := readString(mem, uint32(p[2]), uint32(p[3]))
	if errno != 0 {
		return errno
	}
	oflags, errno := u16Param(p[4])
	if errno != 0 {
		return errno
	}
	fdflags, errno := u16Param(p[7])
	if errno != 0 {
		return errno
	}
	fd, errno := h.sys.Open(sys.OpenRequest{
		Dir:              int32(p[0]),
		Lookup:           sys.Lookupflags(uint32(p[1])),
		Path:             path,
		Oflags:           sys.Oflags(oflags),
		RightsBase:       sys.Rights(p[5]),
		RightsInheriting: sys.Rights(p[6]),
		Fdflags:          sys.Fdflags(fdflags),
	})
	if errno != 0 {
		return errno
	}
	return writeU32(mem, result, uint32(fd))
}

// pathReadlink copies the target of the symlink at path into buf (no NUL;
// truncated to buf_len) and writes the byte count at result.bufused.
// Errors: the common ones (right: PATH_READLINK), EINVAL (not a symlink).
// POSIX: readlinkat.
func pathReadlink(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	mem := mod.Memory()
	path, errno := readString(mem, uint32(p[1]), uint32(p[2]))
	if errno != 0 {
		return errno
	}
	buf, errno := view(mem, uint32(p[3]), uint32(p[4]))
	if errno != 0 {
		return errno
	}
	result := uint32(p[5])
	if errno := writable(mem, 4, result); errno != 0 {
		return errno
	}
	n, errno := h.sys.Readlink(int32(p[0]), path, buf)
	if errno != 0 {
		return errno
	}
	return writeU32(mem, result, uint32(n))
}

// pathRemoveDirectory removes an empty directory. Errors: the common ones
// (right: PATH_REMOVE_DIRECTORY), ENOTEMPTY, ENOTDIR (not a directory),
// EINVAL (the path names "." or ".."). POSIX: unlinkat(AT_REMOVEDIR).
func pathRemoveDirectory(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	path, errno := readString(mod.Memory(), uint32(p[1]), uint32(p[2]))
	if errno != 0 {
		return errno
	}
	return h.sys.RemoveDirectory(int32(p[0]), path)
}

// pathRename renames old_path beneath fd to new_path beneath new_fd,
// replacing new_path if it exists. Errors: the common ones (rights:
// PATH_RENAME_SOURCE on fd, PATH_RENAME_TARGET on new_fd), EISDIR,
// ENOTEMPTY, EINVAL/EBUSY (moving a directory into itself or "."), EXDEV
// (different file systems). POSIX: renameat.
func pathRename(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	mem := mod.Memory()
	oldPath, errno := readString(mem, uint32(p[1]), uint32(p[2]))
	if errno != 0 {
		return errno
	}
	newPath, errno := readString(mem, uint32(p[4]), uint32(p[5]))
	if errno != 0 {
		return errno
	}
	return h.sys.Rename(int32(p[0]), oldPath, int32(p[3]), newPath)
}

// pathSymlink creates new_path beneath fd as a symlink holding old_path.
// The target is stored as given; it is only resolved (beneath a directory
// descriptor) when used. Errors: the common ones (right: PATH_SYMLINK),
// EEXIST, ENOENT (empty target). POSIX: symlinkat.
func pathSymlink(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	mem := mod.Memory()
	target, errno := readString(mem, uint32(p[0]), uint32(p[1]))
	if errno != 0 {
		return errno
	}
	path, errno := readString(mem, uint32(p[3]), uint32(p[4]))
	if errno != 0 {
		return errno
	}
	return h.sys.Symlink(target, int32(p[2]), path)
}

// pathUnlinkFile removes a non-directory. Errors: the common ones (right:
// PATH_UNLINK_FILE), EISDIR (a directory), ENOTDIR (trailing slash on a
// file). POSIX: unlinkat.
func pathUnlinkFile(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	path, errno := readString(mod.Memory(), uint32(p[1]), uint32(p[2]))
	if errno != 0 {
		return errno
	}
	return h.sys.UnlinkFile(int32(p[0]), path)
}
