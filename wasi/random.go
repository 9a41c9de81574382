package wasi

import (
	"context"
	"io"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

func init() {
	register(newFunc("random_get", randomGet, "buf", "buf_len"))
}

// randomGet fills buf_len bytes at buf from the host's random source.
// Errors: EFAULT for a bad range, EIO when the source fails.
// POSIX: getrandom.
func randomGet(_ context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	b, errno := view(mod.Memory(), uint32(p[0]), uint32(p[1]))
	if errno != 0 {
		return errno
	}
	if _, err := io.ReadFull(h.rand, b); err != nil {
		return sys.EIO
	}
	return sys.ESUCCESS
}
