package main

import (
	"os"
	"syscall"
	"unsafe"

	"github.com/dop251/goja"
)

// Signals: process.on('SIGTERM', fn) and the other signal events, on
// wasmrun's signal extension (the "wasmrun" import module, see wasi/signal.go
// in the wasmrun repository). The first listener of a signal subscribes to
// it; from then on the signal no longer ends the process but arrives as one
// byte, its number, on a descriptor that a goroutine reads through Go's
// netpoll (poll_oneoff), and the loop emits the event. Removing the last
// listener gives the signal its default action back. As in node, signal
// listeners do not keep the process alive.

//go:wasmimport wasmrun signal_subscribe
func wasmrunSignalSubscribe(sig int32, fd unsafe.Pointer) int32

//go:wasmimport wasmrun signal_unsubscribe
func wasmrunSignalUnsubscribe(sig int32) int32

// signalState is the runtime's subscriptions; loop goroutine only.
type signalState struct {
	on   map[int32]bool
	fd   int32
	file *os.File // read by readSignals; nil before the first subscription
}

// bindSignals adds signal(num, on): subscribe to (or unsubscribe from) a
// signal, called by lib/bootstrap.js when a signal event gets its first
// listener or loses its last.
func (r *runtime) bindSignals() {
	st := &signalState{on: map[int32]bool{}, fd: -1}
	r.set("signal", func(c goja.FunctionCall) goja.Value {
		sig, on := int32(c.Argument(0).ToInteger()), c.Argument(1).ToBoolean()
		if st.on[sig] == on {
			return nil
		}
		if !on {
			wasmrunSignalUnsubscribe(sig)
			delete(st.on, sig)
			return nil
		}
		var fd int32
		if errno := wasmrunSignalSubscribe(sig, unsafe.Pointer(&fd)); errno != 0 {
			r.throw(syscall.Errno(errno), "signal", "")
		}
		st.on[sig] = true
		if st.file == nil || fd != st.fd {
			st.fd = fd
			st.file = r.readSignals(fd)
		}
		return nil
	})
}

// readSignals reads the signal descriptor fd on a goroutine of its own and
// hands each signal to process._signal on the loop.
func (r *runtime) readSignals(fd int32) *os.File {
	// Non-blocking, the read waits in Go's netpoll, so the loop's other
	// goroutines run meanwhile.
	syscall.SetNonblock(int(fd), true)
	f := os.NewFile(uintptr(fd), "signals")
	go func() {
		buf := make([]byte, 16)
		for {
			n, err := f.Read(buf)
			for _, b := range buf[:n] {
				sig := int64(b)
				r.loop.post(func() {
					if fn, ok := goja.AssertFunction(r.process.Get("_signal")); ok {
						r.loop.call(fn, r.process, r.vm.ToValue(sig))
					}
				})
			}
			if err != nil {
				return
			}
		}
	}()
	return f
}
