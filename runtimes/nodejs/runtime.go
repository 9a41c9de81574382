package main

import (
	"embed"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/dop251/goja"
	"github.com/dop251/goja_nodejs/buffer"
	"github.com/dop251/goja_nodejs/require"
	"github.com/dop251/goja_nodejs/url"
)

//go:embed lib/*.js
var libFS embed.FS

// libModules are the Node modules written in JavaScript (lib/NAME.js),
// loadable as NAME and node:NAME.
var libModules = []string{"events", "util", "path", "fs", "os", "net", "http", "dns", "timers", "stream", "assert", "querystring", "child_process", "crypto", "string_decoder", "https", "fs/promises", "timers/promises", "dns/promises"}

// runtime is one JavaScript program: the engine, its loop and the binding
// object the JavaScript modules use.
type runtime struct {
	vm      *goja.Runtime
	loop    *loop
	entry   string
	args    []string
	binding *goja.Object
	process *goja.Object
	start   time.Time

	rejections []*goja.Promise // unhandled so far, in order
}

func newRuntime(entry string, args []string) *runtime {
	vm := goja.New()
	vm.SetFieldNameMapper(goja.TagFieldNameMapper("json", true))
	r := &runtime{vm: vm, loop: newLoop(vm), entry: entry, args: args, start: time.Now()}
	r.loop.fatal = r.fatal
	r.loop.afterTask = r.checkRejections
	vm.SetPromiseRejectionTracker(r.trackRejection)
	return r
}

// sourceLoader reads module files; the entry gets require.main set.
func (r *runtime) sourceLoader(path string) ([]byte, error) {
	b, err := require.DefaultSourceLoader(path)
	if err == nil && path == r.entry {
		b = append([]byte("require.main = module; "), b...)
	}
	return b, err
}

func (r *runtime) main() int {
	vm := r.vm
	reg := require.NewRegistry(require.WithLoader(r.sourceLoader))
	r.binding = vm.NewObject()
	r.bindProcess()
	r.bindTimers()
	r.bindFS()
	r.bindNet()
	r.bindHTTP()
	r.bindDNS()
	r.bindCrypto()
	r.bindSignals()
	for _, name := range libModules {
		loader := r.libLoader(name)
		reg.RegisterNativeModule(name, loader)
		reg.RegisterNativeModule("node:"+name, loader)
	}
	req := reg.Enable(vm)
	buffer.Enable(vm)
	url.Enable(vm)
	for _, name := range []string{"buffer", "url"} {
		name := name
		reg.RegisterNativeModule("node:"+name, func(vm *goja.Runtime, m *goja.Object) {
			v, err := req.Require(name)
			if err != nil {
				panic(err)
			}
			m.Set("exports", v)
		})
	}
	// Bootstrap: globals (process, console, timers, ...).
	if err := r.runLib("bootstrap", vm.NewObject()); err != nil {
		r.fatal(err)
	}
	r.loop.task(func() {
		if _, err := req.Require(r.entry); err != nil {
			r.fatal(err)
		}
	})
	r.loop.run()
	return r.exit(-1)
}

// exit emits process 'exit' (once) and returns the exit code: code, or
// process.exitCode when code is negative.
func (r *runtime) exit(code int) int {
	fn, _ := goja.AssertFunction(r.process.Get("_exiting"))
	if fn != nil {
		arg := goja.Undefined()
		if code >= 0 {
			arg = r.vm.ToValue(code)
		}
		v, err := fn(r.process, arg)
		if err != nil {
			printError(err)
			return 1
		}
		return int(v.ToInteger())
	}
	if code < 0 {
		return 0
	}
	return code
}

// libLoader loads lib/NAME.js as a CommonJS module with the binding.
func (r *runtime) libLoader(name string) require.ModuleLoader {
	return func(vm *goja.Runtime, module *goja.Object) {
		if err := r.runLib(strings.ReplaceAll(name, "/", "_"), module); err != nil {
			if ex, ok := err.(*goja.Exception); ok {
				panic(ex)
			}
			panic(vm.NewGoError(err))
		}
	}
}

func (r *runtime) runLib(file string, module *goja.Object) error {
	src, err := libFS.ReadFile("lib/" + file + ".js")
	if err != nil {
		return err
	}
	if module.Get("exports") == nil {
		module.Set("exports", r.vm.NewObject())
	}
	prg, err := goja.Compile("node:"+file, "(function(exports, require, module, binding) {"+string(src)+"\n})", true)
	if err != nil {
		return err
	}
	f, err := r.vm.RunProgram(prg)
	if err != nil {
		return err
	}
	fn, _ := goja.AssertFunction(f)
	_, err = fn(goja.Undefined(), module.Get("exports"), r.vm.Get("require"), module, r.binding)
	return err
}

// fatal handles an error thrown to the loop: process 'uncaughtException'
// listeners get it if there are any, else its stack goes to stderr and
// the process exits 1 (after 'exit' listeners).
func (r *runtime) fatal(err error) {
	if ex, ok := err.(*goja.Exception); ok && r.process != nil {
		if fn, ok := goja.AssertFunction(r.process.Get("_uncaught")); ok {
			handled, err2 := fn(r.process, ex.Value())
			if err2 == nil && handled.ToBoolean() {
				return
			}
		}
	}
	printError(err)
	if r.process != nil {
		os.Exit(r.exit(1))
	}
	os.Exit(1)
}

func printError(err error) {
	var ex *goja.Exception
	if errors.As(err, &ex) {
		v := ex.Value()
		if o, ok := v.(*goja.Object); ok {
			if s := o.Get("stack"); s != nil && !goja.IsUndefined(s) {
				fmt.Fprintf(os.Stderr, "Uncaught %s\n", s.String())
				return
			}
		}
		fmt.Fprintf(os.Stderr, "Uncaught %s\n", ex.String())
		return
	}
	fmt.Fprintf(os.Stderr, "%v\n", err)
}

func (r *runtime) trackRejection(p *goja.Promise, op goja.PromiseRejectionOperation) {
	switch op {
	case goja.PromiseRejectionReject:
		r.rejections = append(r.rejections, p)
	case goja.PromiseRejectionHandle:
		for i, q := range r.rejections {
			if q == p {
				r.rejections = append(r.rejections[:i], r.rejections[i+1:]...)
				break
			}
		}
	}
}

// checkRejections makes a rejection still unhandled after a macrotask an
// uncaught error, as node does since version 15.
func (r *runtime) checkRejections() {
	for len(r.rejections) > 0 {
		p := r.rejections[0]
		r.rejections = r.rejections[1:]
		if fn, ok := goja.AssertFunction(r.process.Get("_unhandledRejection")); ok {
			handled, err := fn(r.process, p.Result(), r.vm.ToValue(p))
			if err != nil {
				r.fatal(err)
				continue
			}
			if handled.ToBoolean() {
				continue
			}
		}
		r.die(p.Result())
	}
}

// die prints an uncaught value and exits 1.
func (r *runtime) die(v goja.Value) {
	if o, ok := v.(*goja.Object); ok {
		if s := o.Get("stack"); s != nil && !goja.IsUndefined(s) {
			fmt.Fprintf(os.Stderr, "Uncaught %s\n", s.String())
			os.Exit(r.exit(1))
		}
	}
	s := "undefined"
	if v != nil {
		s = v.String()
	}
	fmt.Fprintf(os.Stderr, "Uncaught (in promise) %s\n", s)
	os.Exit(r.exit(1))
}

// nodeError makes a Node-style Error (code, errno, syscall, path) of err.
func (r *runtime) nodeError(err error, call, path string) *goja.Object {
	code := errCode(err)
	msg := code + ": " + errMessage(err)
	if call != "" {
		msg += ", " + call
	}
	if path != "" {
		msg += " '" + path + "'"
	}
	e := r.vm.NewGoError(errors.New(msg))
	e.Set("code", code)
	if call != "" {
		e.Set("syscall", call)
	}
	if path != "" {
		e.Set("path", path)
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		e.Set("errno", -int(errno))
	}
	return e
}

func errMessage(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}

// errCode is Node's error code for err (ENOENT, ECONNREFUSED, ...).
func errCode(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if name, ok := errnoNames[errno]; ok {
			return name
		}
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "ENOENT"
	case errors.Is(err, os.ErrExist):
		return "EEXIST"
	case errors.Is(err, os.ErrPermission):
		return "EACCES"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "ETIMEDOUT"
	}
	return "EIO"
}

var errnoNames = map[syscall.Errno]string{
	syscall.ENOENT: "ENOENT", syscall.EEXIST: "EEXIST", syscall.EACCES: "EACCES",
	syscall.EPERM: "EPERM", syscall.ENOTDIR: "ENOTDIR", syscall.EISDIR: "EISDIR",
	syscall.ENOTEMPTY: "ENOTEMPTY", syscall.EBADF: "EBADF", syscall.EINVAL: "EINVAL",
	syscall.ECONNREFUSED: "ECONNREFUSED", syscall.EADDRINUSE: "EADDRINUSE",
	syscall.EADDRNOTAVAIL: "EADDRNOTAVAIL", syscall.ECONNRESET: "ECONNRESET",
	syscall.ETIMEDOUT: "ETIMEDOUT", syscall.EPIPE: "EPIPE", syscall.ENOTSUP: "ENOTSUP",
	syscall.ENOSYS: "ENOSYS", syscall.EHOSTUNREACH: "EHOSTUNREACH",
	syscall.ENETUNREACH: "ENETUNREACH", syscall.EROFS: "EROFS", syscall.EXDEV: "EXDEV",
	syscall.ENOSPC: "ENOSPC", syscall.EMFILE: "EMFILE", syscall.ELOOP: "ELOOP",
	syscall.ENAMETOOLONG: "ENAMETOOLONG", syscall.ECONNABORTED: "ECONNABORTED",
}

// throw throws v into JavaScript.
func (r *runtime) throw(err error, call, path string) {
	panic(r.nodeError(err, call, path))
}

// set adds a native function to the binding.
func (r *runtime) set(name string, fn func(goja.FunctionCall) goja.Value) {
	r.binding.Set(name, fn)
}

// bytesOf returns the bytes of a Buffer, typed array, ArrayBuffer or string.
func (r *runtime) bytesOf(v goja.Value) []byte {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return nil
	}
	return buffer.DecodeBytes(r.vm, v, goja.Undefined())
}

// wrap makes a Buffer of b (not copied).
func (r *runtime) wrap(b []byte) goja.Value {
	return buffer.WrapBytes(r.vm, b)
}
