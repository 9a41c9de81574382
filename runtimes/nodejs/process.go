package main

import (
	"os"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// bindProcess adds what lib/bootstrap.js needs for process, console and
// stdio.
func (r *runtime) bindProcess() {
	vm := r.vm
	argv := append([]string{"/usr/local/bin/node", r.entry}, r.args...)
	r.binding.Set("argv", argv)
	env := vm.NewObject()
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env.Set(k, v)
	}
	r.binding.Set("env", env)
	r.binding.Set("pid", os.Getpid())
	r.set("setProcess", func(c goja.FunctionCall) goja.Value {
		r.process = c.Argument(0).ToObject(vm)
		return nil
	})
	// exit(code) ends the process at once (the JavaScript side has run
	// the 'exit' listeners).
	r.set("exit", func(c goja.FunctionCall) goja.Value {
		os.Exit(int(c.Argument(0).ToInteger()))
		return nil
	})
	r.set("cwd", func(goja.FunctionCall) goja.Value {
		if pwd := os.Getenv("PWD"); pwd != "" {
			return vm.ToValue(pwd)
		}
		wd, err := os.Getwd()
		if err != nil {
			return vm.ToValue("/")
		}
		return vm.ToValue(wd)
	})
	r.set("nextTick", func(c goja.FunctionCall) goja.Value {
		fn, ok := goja.AssertFunction(c.Argument(0))
		if !ok {
			panic(vm.NewTypeError("callback must be a function"))
		}
		args := append([]goja.Value(nil), c.Arguments[1:]...)
		r.loop.ticks = append(r.loop.ticks, func() { r.loop.call(fn, goja.Undefined(), args...) })
		return nil
	})
	// write(fd, data): fd 1 or 2; data a string or bytes.
	r.set("write", func(c goja.FunctionCall) goja.Value {
		f := os.Stdout
		if c.Argument(0).ToInteger() == 2 {
			f = os.Stderr
		}
		v := c.Argument(1)
		if s, ok := v.Export().(string); ok {
			f.WriteString(s)
		} else {
			f.Write(r.bytesOf(v))
		}
		return nil
	})
	r.set("hrtime", func(goja.FunctionCall) goja.Value {
		return vm.ToValue(time.Since(r.start).Nanoseconds())
	})
	r.set("hostname", func(goja.FunctionCall) goja.Value {
		if h := os.Getenv("HOSTNAME"); h != "" {
			return vm.ToValue(h)
		}
		if h, err := os.Hostname(); err == nil && h != "" {
			return vm.ToValue(h)
		}
		return vm.ToValue("localhost")
	})
}

// bindTimers adds the timer primitives under setTimeout and friends.
func (r *runtime) bindTimers() {
	vm := r.vm
	l := r.loop
	// setTimer(fn, ms, repeat, args) returns the timer id.
	r.set("setTimer", func(c goja.FunctionCall) goja.Value {
		fn, ok := goja.AssertFunction(c.Argument(0))
		if !ok {
			panic(vm.NewTypeError("The \"callback\" argument must be of type function"))
		}
		ms := c.Argument(1).ToFloat()
		if ms != ms || ms < 1 {
			ms = 1
		}
		var args []goja.Value
		if a, ok := c.Argument(3).Export().([]any); ok {
			for _, x := range a {
				args = append(args, vm.ToValue(x))
			}
		}
		t := l.startTimer(fn, time.Duration(ms*float64(time.Millisecond)), c.Argument(2).ToBoolean(), args)
		return vm.ToValue(t.id)
	})
	timerOp := func(op func(*timer, goja.FunctionCall)) func(goja.FunctionCall) goja.Value {
		return func(c goja.FunctionCall) goja.Value {
			if t, ok := l.timers[c.Argument(0).ToInteger()]; ok {
				op(t, c)
			}
			return nil
		}
	}
	r.set("clearTimer", timerOp(func(t *timer, _ goja.FunctionCall) { l.stopTimer(t) }))
	r.set("refTimer", timerOp(func(t *timer, c goja.FunctionCall) { l.refTimer(t, c.Argument(1).ToBoolean()) }))
	r.set("refreshTimer", timerOp(func(t *timer, _ goja.FunctionCall) { l.refreshTimer(t) }))
	// setImmediate(fn): fn runs as its own task after pending I/O; the
	// returned function cancels it.
	r.set("setImmediate", func(c goja.FunctionCall) goja.Value {
		fn, ok := goja.AssertFunction(c.Argument(0))
		if !ok {
			panic(vm.NewTypeError("The \"callback\" argument must be of type function"))
		}
		cancelled := false
		l.ref()
		l.post(func() {
			l.unref()
			if !cancelled {
				l.call(fn, goja.Undefined())
			}
		})
		return vm.ToValue(func() { cancelled = true })
	})
}
