package wasi

import (
	"context"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

func init() {
	register(
		newFunc("args_sizes_get", argsSizesGet, "result.argc", "result.argv_len"),
		newFunc("args_get", argsGet, "argv", "argv_buf"),
		newFunc("environ_sizes_get", environSizesGet, "result.environc", "result.environv_len"),
		newFunc("environ_get", environGet, "environ", "environ_buf"),
	)
}

// argsSizesGet writes the argument count and the size of the buffer that
// holds them NUL-terminated. POSIX: the argc of main.
func argsSizesGet(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	return sizesGet(mod.Memory(), h.args, uint32(p[0]), uint32(p[1]))
}

// argsGet writes argv pointers at argv and the NUL-terminated strings at
// argvBuf. Errors: EFAULT when either region is out of range.
func argsGet(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	return stringsGet(mod.Memory(), h.args, uint32(p[0]), uint32(p[1]))
}

func environSizesGet(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	return sizesGet(mod.Memory(), h.env, uint32(p[0]), uint32(p[1]))
}

func environGet(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	return stringsGet(mod.Memory(), h.env, uint32(p[0]), uint32(p[1]))
}

func sizesGet(mem api.Memory, ss []string, countPtr, sizePtr uint32) sys.Errno {
	size := 0
	for _, s := range ss {
		size += len(s) + 1
	}
	// Check both before writing either, so a fault writes nothing.
	if errno := writable(mem, 4, countPtr, sizePtr); errno != 0 {
		return errno
	}
	mem.WriteUint32Le(countPtr, uint32(len(ss)))
	mem.WriteUint32Le(sizePtr, uint32(size))
	return sys.ESUCCESS
}

func stringsGet(mem api.Memory, ss []string, ptrs, buf uint32) sys.Errno {
	size := uint32(0)
	for _, s := range ss {
		size += uint32(len(s)) + 1
	}
	ptrView, ok := mem.Read(ptrs, uint32(len(ss))*4)
	if !ok {
		return sys.EFAULT
	}
	bufView, ok := mem.Read(buf, size)
	if !ok {
		return sys.EFAULT
	}
	off := uint32(0)
	for i, s := range ss {
		putLe32(ptrView[i*4:], buf+off)
		copy(bufView[off:], s)
		bufView[off+uint32(len(s))] = 0
		off += uint32(len(s)) + 1
	}
	return sys.ESUCCESS
}
