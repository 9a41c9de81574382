//go:build linux || darwin

package wasi

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"golang.org/x/sys/unix"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// newSignalHarness is newHarness with a proxy that also imports
// ExtModuleName's functions (signal_subscribe, signal_unsubscribe).
func newSignalHarness(t testing.TB) *harness {
	t.Helper()
	ctx := context.Background()
	cfg := Config{Preopens: []Preopen{{HostPath: t.TempDir(), GuestPath: "/"}}}
	h := &harness{t: t, ctx: ctx, dir: cfg.Preopens[0].HostPath, funcs: map[string]*hostFunc{}}
	var imports []proxyImport
	for name, variants := range registry {
		h.funcs[name] = variants[0]
		imports = append(imports, proxyImport{ModuleName, variants[0]})
	}
	for _, f := range extFuncs {
		h.funcs[f.name] = f
		imports = append(imports, proxyImport{ExtModuleName, f})
	}
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	t.Cleanup(func() { r.Close(ctx) })
	compiled, err := r.CompileModule(ctx, proxyModuleOf(imports))
	if err != nil {
		t.Fatalf("compile proxy module: %v", err)
	}
	h.host, err = Instantiate(ctx, r, compiled, cfg)
	if err != nil {
		t.Fatalf("instantiate host modules: %v", err)
	}
	t.Cleanup(func() { h.host.Close(ctx) })
	h.sys = h.host.sys
	h.guest, err = r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName("proxy"))
	if err != nil {
		t.Fatalf("instantiate proxy module: %v", err)
	}
	return h
}

// proxyImport is one function a test proxy imports, and from where.
type proxyImport struct {
	module string
	f      *hostFunc
}

// proxyModuleOf is proxyModule with each function's own import module.
func proxyModuleOf(imports []proxyImport) []byte {
	n := uint32(len(imports))
	var types, imps, functions, exports, code []byte
	types = appendU32(types, n)
	imps = appendU32(imps, n)
	functions = appendU32(functions, n)
	exports = appendU32(exports, n+1)
	code = appendU32(code, n)
	for i, im := range imports {
		f := im.f
		types = append(types, 0x60)
		types = appendValTypes(types, f.paramTypes)
		types = appendValTypes(types, f.resultTypes())
		imps = appendName(imps, im.module)
		imps = appendName(imps, f.name)
		imps = append(imps, 0x00)
		imps = appendU32(imps, uint32(i))
		functions = appendU32(functions, uint32(i))
		exports = appendName(exports, f.name)
		exports = append(exports, 0x00)
		exports = appendU32(exports, n+uint32(i))
		body := []byte{0x00}
		for p := range f.paramTypes {
			body = append(body, 0x20)
			body = appendU32(body, uint32(p))
		}
		body = append(body, 0x10)
		body = appendU32(body, uint32(i))
		body = append(body, 0x0b)
		code = appendU32(code, uint32(len(body)))
		code = append(code, body...)
	}
	exports = appendName(exports, "memory")
	exports = append(exports, 0x02, 0x00)
	memory := appendU32([]byte{0x01, 0x00}, harnessMemPages)
	out := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
	for _, s := range []struct {
		id   byte
		body []byte
	}{{1, types}, {2, imps}, {3, functions}, {5, memory}, {7, exports}, {10, code}} {
		out = append(out, s.id)
		out = appendU32(out, uint32(len(s.body)))
		out = append(out, s.body...)
	}
	return out
}

// Guest memory layout of the signal tests.
const (
	sigFD    = 100 // u32 result fd
	sigIovec = 200 // one iovec
	sigBuf   = 300 // 16-byte read buffer
	sigN     = 400 // u32 nread
)

// subscribe calls signal_subscribe(sig) and returns the fd it wrote.
func (h *harness) subscribe(sig int) int32 {
	h.t.Helper()
	h.fill(0xaa)
	h.expectErrno(sys.ESUCCESS, "signal_subscribe", uint64(sig), sigFD)
	h.expectMem(sigFD+4, []byte{0xaa}) // exactly four bytes written
	return int32(h.u32(sigFD))
}

// readSignals waits (up to 10 s) until fd is readable, then reads it
// through fd_read and returns the bytes.
func (h *harness) readSignals(fd int32) []byte {
	h.t.Helper()
	f, errno := h.sys.Lookup(fd)
	if errno != 0 {
		h.t.Fatalf("signal fd %d: %v", fd, errno)
	}
	pfd := []unix.PollFd{{Fd: int32(f.Fd), Events: unix.POLLIN}}
	n, err := unix.Poll(pfd, 10_000)
	for err == unix.EINTR { // the signal itself, caught by the forwarder
		n, err = unix.Poll(pfd, 10_000)
	}
	if n != 1 || err != nil {
		h.t.Fatalf("signal fd %d not readable after 10 s (poll %d, %v)", fd, n, err)
	}
	h.writeIovecs(sigIovec, [2]uint32{sigBuf, 16})
	h.expectErrno(sys.ESUCCESS, "fd_read", uint64(fd), sigIovec, 1, sigN)
	return h.read(sigBuf, h.u32(sigN))
}

// raise sends sig to this process.
func raise(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := unix.Kill(os.Getpid(), sig); err != nil {
		t.Fatal(err)
	}
}

// TestSignalSubscribe: a subscribed signal (SIGUSR1 and SIGUSR2 here: a
// test must not be killed by its own signal) is one byte with its number
// on the descriptor signal_subscribe returns, the same one for every
// signal; a signal that comes again before the guest read the last one is
// merged with it.
func TestSignalSubscribe(t *testing.T) {
	h := newSignalHarness(t)
	fd := h.subscribe(int(unix.SIGUSR1))
	if fd < 4 {
		t.Fatalf("signal fd %d: want one after the preopen (fd 3)", fd)
	}
	if again := h.subscribe(int(unix.SIGUSR1)); again != fd {
		t.Errorf("second subscription gave fd %d, want %d", again, fd)
	}
	if other := h.subscribe(int(unix.SIGUSR2)); other != fd {
		t.Errorf("SIGUSR2 gave fd %d, want the same fd %d", other, fd)
	}
	h.fill(0xaa)
	h.expectErrno(sys.ESUCCESS, "fd_fdstat_get", uint64(fd), 0)
	if ft, rights := h.read(0, 1)[0], h.u64(8); ft != byte(sys.FiletypeUnknown) || sys.Rights(rights)&sys.RightFdWrite != 0 || sys.Rights(rights)&sys.RightPollFdReadwrite == 0 {
		t.Errorf("fdstat: filetype %d rights %#x, want an unknown-type, read-only, pollable descriptor", ft, rights)
	}

	raise(t, unix.SIGUSR1)
	if got := h.readSignals(fd); string(got) != "\x0a" {
		t.Errorf("after SIGUSR1 read %x, want 0a", got)
	}
	raise(t, unix.SIGUSR2)
	raise(t, unix.SIGUSR2) // merged: the first is not read yet
	time.Sleep(100 * time.Millisecond)
	raise(t, unix.SIGUSR1)
	time.Sleep(100 * time.Millisecond)
	if got := h.readSignals(fd); string(got) != "\x0c\x0a" {
		t.Errorf("after SIGUSR2 SIGUSR2 SIGUSR1 read %x, want 0c0a", got)
	}
	raise(t, unix.SIGUSR2) // read: a new delivery
	if got := h.readSignals(fd); string(got) != "\x0c" {
		t.Errorf("after reading, SIGUSR2 read %x, want 0c", got)
	}
}

// TestSignalSubscribeRefused: signals a guest may not take over are
// EINVAL, a bad result pointer EFAULT; neither subscribes anything or
// writes memory.
func TestSignalSubscribeRefused(t *testing.T) {
	h := newSignalHarness(t)
	for _, sig := range []uint64{0, 9, 19, 13, 17, 16, 11, 23, 14, 31, 64, 99, 0xffffffff} {
		h.fill(0xaa)
		h.expectErrno(sys.EINVAL, "signal_subscribe", sig, sigFD)
		h.expectMem(sigFD, []byte{0xaa, 0xaa, 0xaa, 0xaa})
		h.expectErrno(sys.EINVAL, "signal_unsubscribe", sig)
	}
	h.expectErrno(sys.EFAULT, "signal_subscribe", uint64(unix.SIGUSR1), uint64(h.memSize()-3))
	if subs := h.host.signals.Subscribed(); len(subs) != 0 {
		t.Errorf("subscribed to %v after refusals, want nothing", subs)
	}
	h.expectErrno(sys.ESUCCESS, "signal_unsubscribe", uint64(unix.SIGUSR1)) // not subscribed: no-op
}

// TestSignalClosedFD: a guest that closes its signal descriptor loses
// the signals (the host is not disturbed), and its next subscription gets
// a new, working descriptor, even when the old number was reused.
func TestSignalClosedFD(t *testing.T) {
	h := newSignalHarness(t)
	fd := h.subscribe(int(unix.SIGUSR1))
	h.expectErrno(sys.ESUCCESS, "fd_close", uint64(fd))
	raise(t, unix.SIGUSR1) // caught (subscribed) and dropped
	time.Sleep(100 * time.Millisecond)
	// Reuse the number for a file.
	h.writeString(500, "f")
	h.expectErrno(sys.ESUCCESS, "path_open", harnessPreopenFD, 0, 500, 1, 1 /* creat */, uint64(sys.RightFdRead|sys.RightFdWrite), 0, 0, 504)
	if got := int32(h.u32(504)); got != fd {
		t.Fatalf("path_open gave fd %d, want the freed %d", got, fd)
	}
	fd2 := h.subscribe(int(unix.SIGUSR1))
	if fd2 == fd {
		t.Fatalf("subscription after close gave fd %d, the file's", fd2)
	}
	raise(t, unix.SIGUSR1)
	if got := h.readSignals(fd2); string(got) != "\x0a" {
		t.Errorf("read %x on the new descriptor, want 0a", got)
	}
}

// TestSignalImports: the wasmrun module exists only for a guest that
// imports from it; an import of a name it lacks or with another signature
// is refused before anything runs.
func TestSignalImports(t *testing.T) {
	ctx := context.Background()
	instantiate := func(imports []proxyImport) (wazero.Runtime, error) {
		r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
		t.Cleanup(func() { r.Close(ctx) })
		compiled, err := r.CompileModule(ctx, proxyModuleOf(imports))
		if err != nil {
			t.Fatal(err)
		}
		host, err := Instantiate(ctx, r, compiled, Config{})
		if err == nil {
			t.Cleanup(func() { host.Close(ctx) })
		}
		return r, err
	}
	r, err := instantiate([]proxyImport{{ModuleName, registry["fd_write"][0]}})
	if err != nil || r.Module(ExtModuleName) != nil {
		t.Errorf("guest without wasmrun imports: err %v, module %s instantiated: %v", err, ExtModuleName, r.Module(ExtModuleName) != nil)
	}
	if r, err := instantiate([]proxyImport{{ExtModuleName, extFuncs[0]}}); err != nil || r.Module(ExtModuleName) == nil {
		t.Errorf("guest importing signal_subscribe: %v", err)
	}
	for _, bad := range []*hostFunc{
		newFunc("signal_subscribe", nil, "sig"),
		newFuncTyped("signal_unsubscribe", nil, "sig:i64"),
		newFunc("signal_raise", nil, "sig"),
	} {
		_, err := instantiate([]proxyImport{{ExtModuleName, bad}})
		var ie *ImportError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), "wasmrun."+bad.name) {
			t.Errorf("import wasmrun.%s%s: %v, want an ImportError naming it", bad.name, bad.signature(), err)
		}
	}
}

// signalChildEnv makes the test binary a child for TestSignalDefaultAction.
const signalChildEnv = "WASMRUN_SIGNAL_TEST_CHILD"

// TestSignalDefaultAction runs guests in child processes and SIGTERMs
// them: subscribed, the child lives on and reads 15; unsubscribed again,
// or after the host is closed, the signal kills it, as it kills a guest
// that never subscribed.
func TestSignalDefaultAction(t *testing.T) {
	if mode := os.Getenv(signalChildEnv); mode != "" {
		signalChild(t, mode)
		return
	}
	for mode, wantKilled := range map[string]bool{"subscribed": false, "unsubscribed": true, "closed": true, "never": true} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestSignalDefaultAction$", "-test.v")
			// The child's temporary directories go in one of ours: a child
			// the signal kills never removes its own.
			cmd.Env = append(os.Environ(), signalChildEnv+"="+mode, "TMPDIR="+t.TempDir())
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4096)
			for !strings.Contains(out.String(), "ready\n") {
				n, err := stdout.Read(buf)
				out.Write(buf[:n])
				if err != nil {
					t.Fatalf("child ended before it was ready: %v\n%s", err, out.String())
				}
			}
			cmd.Process.Signal(syscall.SIGTERM)
			rest := make(chan string)
			go func() {
				b := new(strings.Builder)
				for {
					n, err := stdout.Read(buf)
					b.Write(buf[:n])
					if err != nil {
						rest <- b.String()
						return
					}
				}
			}()
			text := out.String() + <-rest
			cmd.Wait()
			ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
			killed := ws.Signaled() && ws.Signal() == syscall.SIGTERM
			if killed != wantKilled {
				t.Errorf("child (%s): killed by SIGTERM %v, want %v (status %v)\n%s", mode, killed, wantKilled, cmd.ProcessState, text)
			}
			if !wantKilled && !strings.Contains(text, "got 0f") {
				t.Errorf("child (%s) did not read SIGTERM's byte:\n%s", mode, text)
			}
		})
	}
}

// signalChild is the child of TestSignalDefaultAction.
func signalChild(t *testing.T, mode string) {
	h := newSignalHarness(t)
	switch mode {
	case "subscribed":
		fd := h.subscribe(int(unix.SIGTERM))
		fmt.Println("ready")
		fmt.Printf("got %x\n", h.readSignals(fd))
		return
	case "unsubscribed":
		h.subscribe(int(unix.SIGTERM))
		h.expectErrno(sys.ESUCCESS, "signal_unsubscribe", uint64(unix.SIGTERM))
	case "closed":
		h.subscribe(int(unix.SIGTERM))
		h.host.signals.Close()
	}
	fmt.Println("ready")
	time.Sleep(10 * time.Second)
	fmt.Println("still alive")
}

// TestSignalChurn: a guest that subscribes and unsubscribes, or closes
// its descriptor and subscribes again, in a loop leaves the host with no
// more goroutines or descriptors than one subscription needs.
func TestSignalChurn(t *testing.T) {
	h := newSignalHarness(t)
	h.subscribe(int(unix.SIGUSR1))
	h.expectErrno(sys.ESUCCESS, "signal_unsubscribe", uint64(unix.SIGUSR1))
	goroutines, fds := runtime.NumGoroutine(), openFDs(t)
	for i := 0; i < 500; i++ {
		fd := h.subscribe(int(unix.SIGUSR1))
		h.expectErrno(sys.ESUCCESS, "signal_unsubscribe", uint64(unix.SIGUSR1))
		if i%2 == 0 {
			h.expectErrno(sys.ESUCCESS, "fd_close", uint64(fd))
		}
	}
	time.Sleep(50 * time.Millisecond) // forwarders end asynchronously
	if g := runtime.NumGoroutine(); g > goroutines+1 {
		t.Errorf("%d goroutines after the loop, %d before", g, goroutines)
	}
	if n := openFDs(t); n > fds+2 {
		t.Errorf("%d descriptors open after the loop, %d before", n, fds)
	}
}

// openFDs counts this process's open descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// TestSignalSubscribedAfterClose: Host.Subscribed tells whether the guest
// deals with a signal itself: while subscribed, and after its host closed
// subscribed (it ended, say in its handler, just as the signal came: an
// instances supervisor asking then must not give the signal its default
// action); not after it unsubscribed.
func TestSignalSubscribedAfterClose(t *testing.T) {
	h := newSignalHarness(t)
	term, usr1 := int(unix.SIGTERM), int(unix.SIGUSR1)
	h.expectErrno(sys.ESUCCESS, "signal_subscribe", uint64(term), sigFD)
	h.expectErrno(sys.ESUCCESS, "signal_subscribe", uint64(usr1), sigFD)
	h.expectErrno(sys.ESUCCESS, "signal_unsubscribe", uint64(usr1))
	if !h.host.Subscribed(term) || h.host.Subscribed(usr1) {
		t.Fatalf("Subscribed: SIGTERM %v, SIGUSR1 %v; want true, false", h.host.Subscribed(term), h.host.Subscribed(usr1))
	}
	h.host.signals.Close()
	if !h.host.Subscribed(term) || h.host.Subscribed(usr1) || h.host.Subscribed(int(unix.SIGINT)) {
		t.Errorf("after close: SIGTERM %v, SIGUSR1 %v, SIGINT %v; want true, false, false",
			h.host.Subscribed(term), h.host.Subscribed(usr1), h.host.Subscribed(int(unix.SIGINT)))
	}
	if subs := h.host.signals.Subscribed(); len(subs) != 0 {
		t.Errorf("live subscriptions after close: %v", subs)
	}
}
