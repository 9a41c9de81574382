package wasi

import (
	"context"
	"runtime"

	"github.com/tetratelabs/wazero/api"
	wsys "github.com/tetratelabs/wazero/sys"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

func init() {
	exit := newFunc("proc_exit", procExit, "rval")
	exit.noResult = true
	register(
		exit,
		newFunc("proc_raise", procRaise, "sig"),
		newFunc("sched_yield", schedYield),
	)
}

// procExit ends the guest with exit code rval; the caller of the guest's
// _start sees a *sys.ExitError carrying it. POSIX: _exit.
func procExit(ctx context.Context, _ *Host, mod api.Module, p []uint64) sys.Errno {
	code := uint32(p[0])
	_ = mod.CloseWithExitCode(ctx, code)
	// Nothing of the guest may run after exit (LLVM puts unreachable after it).
	panic(wsys.NewExitError(code))
}

// Preview1 signal numbers whose default action does not end the process.
const (
	sigNone  = 0
	sigCHLD  = 16
	sigCONT  = 17
	sigSTOP  = 18
	sigTSTP  = 19
	sigTTIN  = 20
	sigTTOU  = 21
	sigURG   = 22
	sigWINCH = 27
	sigMax   = 30 // SYS
)

// procRaise delivers sig to the guest itself. A guest has no signal
// handlers, so each signal takes its default action: those that terminate a
// process end the guest with exit code 128+sig as a shell reports it (with
// the preview1 numbering, which matches Linux for the classic signals);
// those whose default is to ignore do nothing. Stop signals are ENOTSUP:
// a guest cannot be stopped from inside. Errors: EINVAL for an unknown
// signal. POSIX: raise.
func procRaise(ctx context.Context, h *Host, mod api.Module, p []uint64) sys.Errno {
	sig := uint32(p[0])
	switch {
	case sig > sigMax:
		return sys.EINVAL
	case sig == sigNone, sig == sigCHLD, sig == sigCONT, sig == sigURG, sig == sigWINCH:
		return sys.ESUCCESS
	case sig == sigSTOP, sig == sigTSTP, sig == sigTTIN, sig == sigTTOU:
		return sys.ENOTSUP
	}
	code := 128 + sig
	_ = mod.CloseWithExitCode(ctx, code)
	panic(wsys.NewExitError(code))
}

// schedYield gives up the processor. POSIX: sched_yield.
func schedYield(context.Context, *Host, api.Module, []uint64) sys.Errno {
	runtime.Gosched()
	return sys.ESUCCESS
}
