package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	wsys "github.com/tetratelabs/wazero/sys"
	"github.com/wasmrun/wasmrun/wasi"
)

// tracer is the function listener factory of Options.Trace: one line per
// call the guest makes to the wasi host module, written when the call
// returns, like strace:
//
//	path_open(fd=3, dirflags=SYMLINK_FOLLOW, path="data.txt", oflags=CREAT|TRUNC, fs_rights_base=0x..., fs_rights_inheriting=0x..., fdflags=0) = ESUCCESS opened_fd=4
//	fd_write(fd=1, iovs=[6]) = ESUCCESS nwritten=6
//	sock_bind(fd=3, addr=0.0.0.0:3000) = EADDRINUSE
//	proc_exit(rval=0)
//
// Arguments are decoded from the parameters' names (wasi's newFunc names
// them as the spec does): fds as numbers, paths and names read from guest
// memory, flags as names, iovecs as their lengths, socket addresses as
// ADDR:PORT. What the call wrote (opened_fd, nread...) follows the errno
// when it is ESUCCESS. proc_exit is written as it is called: it never
// returns. Strings the guest chose (paths, names) are quoted, so that a
// guest cannot forge lines or send escape sequences to the terminal of
// whoever reads the trace; a bad pointer reads as <bad pointer>.
//
// wazero's experimental/logging attaches to this host module too (same
// module and parameter names) but is not used: it leaves out fd_read and
// fd_write on stdio, writes a guest's strings raw, shows socket
// addresses and iovecs as pointers, reads output buffers before the call
// fills them (fd_prestat_dir_name) and takes two lines per call.
//
// It is installed on the host module only (Prepared.Instantiate), never on
// the guest: wazero compiles a listener hook into each function it
// listens to, and a guest compiled with hooks is another module to the
// compiled-module cache (the hooks are part of its key). The host module
// is compiled at every start anyway (trampolines into Go, a few
// microseconds, never cached), so a traced run uses the guest's cache
// entry as any other run, and a run without Trace has no listener at all.
//
// A guest instance is one thread and host functions do not call back into
// the guest, so calls do not nest: the call in progress is the tracer's.
type tracer struct {
	w io.Writer

	mu     sync.Mutex
	line   []byte   // the call in progress, up to its ')'
	params []uint64 // its parameters (the stack's first slot is the result after it)
}

func newTracer(w io.Writer) *tracer { return &tracer{w: w} }

// NewFunctionListener implements experimental.FunctionListenerFactory.
func (t *tracer) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	if def.GoFunction() == nil {
		return nil // a guest function
	}
	return &traceFunc{t: t, plan: planCall(def)}
}

// traceFunc is the listener of one host function.
type traceFunc struct {
	t    *tracer
	plan *callPlan
}

func (f *traceFunc) Before(_ context.Context, mod api.Module, _ api.FunctionDefinition, params []uint64, _ experimental.StackIterator) {
	t := f.t
	t.mu.Lock()
	defer t.mu.Unlock()
	mem := mod.Memory()
	t.line = append(t.line[:0], f.plan.name...)
	t.line = append(t.line, '(')
	for i, a := range f.plan.args {
		if i > 0 {
			t.line = append(t.line, ", "...)
		}
		t.line = a(t.line, mem, params)
	}
	t.line = append(t.line, ')')
	if f.plan.noResult {
		t.write()
		return
	}
	t.params = append(t.params[:0], params...)
}

func (f *traceFunc) After(_ context.Context, mod api.Module, _ api.FunctionDefinition, results []uint64) {
	if f.plan.noResult {
		return
	}
	t := f.t
	t.mu.Lock()
	defer t.mu.Unlock()
	errno := uint32(results[0])
	t.line = append(t.line, " = "...)
	t.line = append(t.line, wasi.ErrnoName(errno)...)
	if errno == 0 {
		mem := mod.Memory()
		for _, o := range f.plan.outs {
			t.line = append(t.line, ' ')
			t.line = o(t.line, mem, t.params)
		}
	}
	t.write()
}

// Abort is a host function that ended the guest instead of returning (the
// guest's context done, a trap): the line ends with "= ?" and why.
func (f *traceFunc) Abort(_ context.Context, _ api.Module, _ api.FunctionDefinition, err error) {
	if f.plan.noResult {
		return
	}
	t := f.t
	t.mu.Lock()
	defer t.mu.Unlock()
	t.line = append(t.line, " = ? "...)
	var exit *wsys.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() == wsys.ExitCodeContextCanceled:
		t.line = append(t.line, "(ended: the run was cancelled)"...)
	case errors.As(err, &exit) && exit.ExitCode() == wsys.ExitCodeDeadlineExceeded:
		t.line = append(t.line, "(ended: the run's deadline passed)"...)
	case errors.As(err, &exit):
		t.line = fmt.Appendf(t.line, "(exit %d)", exit.ExitCode())
	default:
		msg, _, _ := strings.Cut(err.Error(), "\n")
		t.line = append(t.line, '(')
		t.line = append(t.line, msg...)
		t.line = append(t.line, ')')
	}
	t.write()
}

// write writes the line, in one write so that it does not mix with the
// guest's own output on the same file.
func (t *tracer) write() {
	t.line = append(t.line, '\n')
	t.w.Write(t.line)
	t.line = t.line[:0]
}

// argFmt appends one decoded argument ("name=value") of a call with
// parameters p; an outFmt the same for what the call wrote.
type argFmt func(b []byte, mem api.Memory, p []uint64) []byte

// callPlan is how one host function's calls are written.
type callPlan struct {
	name     string
	args     []argFmt // before the call
	outs     []argFmt // after a successful call
	noResult bool     // proc_exit
}

// planCall decides, once per function, how each parameter is written,
// from its name. Parameters it does not know are written as numbers.
func planCall(def api.FunctionDefinition) *callPlan {
	name := def.Name()
	names, types := def.ParamNames(), def.ParamTypes()
	c := &callPlan{name: name, noResult: len(def.ResultTypes()) == 0}
	index := func(n string) int {
		for i, pn := range names {
			if pn == n {
				return i
			}
		}
		return -1
	}
	used := make([]bool, len(names))
	for i, n := range names {
		if used[i] {
			continue
		}
		lenIdx := -1
		if i+1 < len(names) && names[i+1] == n+"_len" {
			lenIdx = i + 1
			used[lenIdx] = true
		}
		switch {
		case n == "":
			c.args = append(c.args, numArg("arg"+strconv.Itoa(i), i, types[i]))

		// Strings the guest passes, and the one preview1 function that
		// writes one (the preopen's name, as long as fd_prestat_get said).
		case lenIdx >= 0 && (strings.HasSuffix(n, "path") || n == "node" || n == "service"):
			if name == "fd_prestat_dir_name" {
				c.outs = append(c.outs, strArg(n, i, lenIdx))
			} else {
				c.args = append(c.args, strArg(n, i, lenIdx))
			}
		case lenIdx >= 0 && (n == "iovs" || n == "ri_data" || n == "si_data"):
			c.args = append(c.args, iovArg(n, i, lenIdx))
		case lenIdx >= 0 && n == "buf":
			c.args = append(c.args, numArg(names[lenIdx], lenIdx, types[lenIdx]))
		case n == "argv" || n == "argv_buf" || n == "environ" || n == "environ_buf" ||
			n == "out" || n == "hints" || n == "result.res":
			// Pointers to what the call fills or to a layout of its
			// own: nothing a reader needs.
		case n == "in" && index("nsubscriptions") >= 0:
			c.args = append(c.args, subsArg(i, index("nsubscriptions")))
			used[index("nsubscriptions")] = true

		// Socket addresses: {buf, buf_len} at addr and the port apart.
		// sock_bind, sock_connect and sock_send_to pass one; recv_from,
		// getlocaladdr and getpeeraddr fill one.
		case n == "addr" && index("port") >= 0:
			c.args = append(c.args, addrArg("addr", i, index("port"), -1, -1))
			used[index("port")] = true
		case n == "addr":
			port, typ := index("result.port"), index("result.addr_type")
			c.outs = append(c.outs, addrArg("addr", i, -1, port, typ))
			if port >= 0 {
				used[port] = true
			}
			if typ >= 0 {
				used[typ] = true
			}

		case strings.HasPrefix(n, "result."):
			c.outs = append(c.outs, resultArg(name, n[len("result."):], i))
		case n == "flag" && (name == "sock_setsockopt" || name == "sock_getsockopt"):
			sizeIdx := index("flag_size")
			used[sizeIdx] = true
			if name == "sock_setsockopt" {
				c.args = append(c.args, sockoptValue(i, sizeIdx, false))
			} else {
				c.outs = append(c.outs, sockoptValue(i, sizeIdx, true))
			}
		default:
			c.args = append(c.args, flagArg(name, n, i, types[i]))
		}
	}
	return c
}

// flagArg writes a scalar parameter: as flag or enum names where the
// parameter is one, else as a number.
func flagArg(fn, n string, i int, typ api.ValueType) argFmt {
	var names func(v uint64) string
	switch {
	case n == "dirflags" || n == "old_flags" || (n == "flags" && strings.HasPrefix(fn, "path_")):
		names = bitNames(lookupflagNames)
	case n == "fdflags" || n == "flags":
		names = bitNames(fdflagNames)
	case n == "oflags":
		names = bitNames(oflagNames)
	case n == "fst_flags":
		names = bitNames(fstflagNames)
	case n == "ri_flags":
		names = bitNames(riflagNames)
	case n == "how":
		names = bitNames(sdflagNames)
	case n == "fs_rights_base" || n == "fs_rights_inheriting":
		names = func(v uint64) string { return "0x" + strconv.FormatUint(v, 16) }
	case n == "whence":
		names = enumNames(whenceNames)
	case n == "advice":
		names = enumNames(adviceNames)
	case n == "id" && strings.HasPrefix(fn, "clock_"):
		names = enumNames(clockNames)
	case n == "af":
		names = enumNames(familyNames)
	case n == "socktype":
		names = enumNames(socktypeNames)
	case n == "level" && strings.HasSuffix(fn, "sockopt"):
		names = enumNames([]string{"SOL_SOCKET"})
	case n == "name" && strings.HasSuffix(fn, "sockopt"):
		names = enumNames(sockoptNames)
	default:
		return numArg(n, i, typ)
	}
	return func(b []byte, _ api.Memory, p []uint64) []byte {
		b = append(b, n...)
		b = append(b, '=')
		v := p[i]
		if typ == api.ValueTypeI32 {
			v = uint64(uint32(v)) // the stack slot's high bits are not the value's
		}
		return append(b, names(v)...)
	}
}

func numArg(n string, i int, typ api.ValueType) argFmt {
	return func(b []byte, _ api.Memory, p []uint64) []byte {
		b = append(b, n...)
		b = append(b, '=')
		if typ == api.ValueTypeI64 {
			return strconv.AppendInt(b, int64(p[i]), 10)
		}
		return strconv.AppendInt(b, int64(int32(p[i])), 10)
	}
}

// maxTraceString is how much of a string a line shows.
const maxTraceString = 256

func strArg(n string, ptr, length int) argFmt {
	return func(b []byte, mem api.Memory, p []uint64) []byte {
		b = append(b, n...)
		b = append(b, '=')
		size := uint32(p[length])
		s, ok := mem.Read(uint32(p[ptr]), min(size, maxTraceString))
		if !ok {
			return append(b, "<bad pointer>"...)
		}
		b = strconv.AppendQuote(b, string(s))
		if size > maxTraceString {
			b = append(b, "..."...)
		}
		return b
	}
}

// maxTraceList is how many iovecs or subscriptions a line shows.
const maxTraceList = 8

// iovArg writes an iovec array as its buffers' lengths: iovs=[512,6].
func iovArg(n string, ptr, count int) argFmt {
	return func(b []byte, mem api.Memory, p []uint64) []byte {
		b = append(b, n...)
		b = append(b, "=["...)
		base, cnt := uint32(p[ptr]), uint32(p[count])
		for k := uint32(0); k < min(cnt, maxTraceList); k++ {
			if k > 0 {
				b = append(b, ',')
			}
			l, ok := mem.ReadUint32Le(base + 8*k + 4)
			if !ok {
				return append(b, "<bad pointer>]"...)
			}
			b = strconv.AppendUint(b, uint64(l), 10)
		}
		if cnt > maxTraceList {
			b = fmt.Appendf(b, ",...%d more", cnt-maxTraceList)
		}
		return append(b, ']')
	}
}

// subsArg writes poll_oneoff's subscriptions:
// subs=[fd_read(3),clock(monotonic,1.5s)].
func subsArg(in, count int) argFmt {
	return func(b []byte, mem api.Memory, p []uint64) []byte {
		b = append(b, "subs=["...)
		base, cnt := uint32(p[in]), uint32(p[count])
		for k := uint32(0); k < min(cnt, maxTraceList); k++ {
			if k > 0 {
				b = append(b, ',')
			}
			s, ok := mem.Read(base+48*k, 48)
			if !ok {
				return append(b, "<bad pointer>]"...)
			}
			switch s[8] {
			case 0:
				id, timeout, flags := le32(s[16:]), le64(s[24:]), le16(s[40:])
				b = append(b, "clock("...)
				b = append(b, enumNames(clockNames)(uint64(id))...)
				b = append(b, ',')
				if flags&1 != 0 {
					b = append(b, "abstime="...)
					b = strconv.AppendUint(b, timeout, 10)
				} else {
					b = append(b, durationString(timeout)...)
				}
				b = append(b, ')')
			case 1, 2:
				b = append(b, [...]string{1: "fd_read(", 2: "fd_write("}[s[8]]...)
				b = strconv.AppendInt(b, int64(int32(le32(s[16:]))), 10)
				b = append(b, ')')
			default:
				b = fmt.Appendf(b, "tag%d", s[8])
			}
		}
		if cnt > maxTraceList {
			b = fmt.Appendf(b, ",...%d more", cnt-maxTraceList)
		}
		return append(b, ']')
	}
}

// durationString is a relative timeout in nanoseconds, as Go writes
// durations (1.5s, 100ms, 0s).
func durationString(ns uint64) string {
	if ns > 1<<63-1 {
		return strconv.FormatUint(ns, 10) + "ns"
	}
	return time.Duration(ns).String()
}

// addrArg writes a socket address as ADDR:PORT (or a Unix path). port is
// the index of a port parameter, outPort and outType those of pointers
// the call filled (-1: none).
func addrArg(n string, ptr, port, outPort, outType int) argFmt {
	return func(b []byte, mem api.Memory, p []uint64) []byte {
		b = append(b, n...)
		b = append(b, '=')
		var portVal uint32
		switch {
		case port >= 0:
			portVal = uint32(p[port])
		case outPort >= 0:
			v, ok := mem.ReadUint32Le(uint32(p[outPort]))
			if !ok {
				return append(b, "<bad pointer>"...)
			}
			portVal = v
		}
		addrType := uint32(0)
		if outType >= 0 {
			addrType, _ = mem.ReadUint32Le(uint32(p[outType]))
		}
		return appendSockAddr(b, mem, uint32(p[ptr]), portVal, port >= 0 || outPort >= 0, addrType)
	}
}

// resultArg writes what a call wrote at a result pointer: a u32 unless
// the name says otherwise.
func resultArg(fn, n string, i int) argFmt {
	return func(b []byte, mem api.Memory, p []uint64) []byte {
		b = append(b, n...)
		b = append(b, '=')
		at := uint32(p[i])
		bad := func() []byte { return append(b, "<bad pointer>"...) }
		switch n {
		case "newoffset", "offset", "timestamp", "resolution":
			v, ok := mem.ReadUint64Le(at)
			if !ok {
				return bad()
			}
			return strconv.AppendUint(b, v, 10)
		case "ro_flags":
			v, ok := mem.Read(at, 2)
			if !ok {
				return bad()
			}
			return append(b, bitNames(roflagNames)(uint64(le16(v)))...)
		case "filestat":
			s, ok := mem.Read(at, 64)
			if !ok {
				return bad()
			}
			b = append(b, "{filetype="...)
			b = append(b, enumNames(filetypeNames)(uint64(s[16]))...)
			b = append(b, ",size="...)
			b = strconv.AppendUint(b, le64(s[32:]), 10)
			return append(b, '}')
		case "stat":
			s, ok := mem.Read(at, 24)
			if !ok {
				return bad()
			}
			b = append(b, "{filetype="...)
			b = append(b, enumNames(filetypeNames)(uint64(s[0]))...)
			b = append(b, ",fdflags="...)
			b = append(b, bitNames(fdflagNames)(uint64(le16(s[2:])))...)
			return append(b, '}')
		case "prestat":
			s, ok := mem.Read(at, 8)
			if !ok {
				return bad()
			}
			return fmt.Appendf(b, "{dir,name_len=%d}", le32(s[4:]))
		}
		v, ok := mem.ReadUint32Le(at)
		if !ok {
			return bad()
		}
		return strconv.AppendInt(b, int64(int32(v)), 10)
	}
}

// sockoptValue writes an integer option's value: the 4 bytes at flag when
// its size is 4 (flag_size is the size itself or, when it is not 4, a
// pointer to it for sock_getsockopt), else only the size.
func sockoptValue(flag, sizeIdx int, out bool) argFmt {
	return func(b []byte, mem api.Memory, p []uint64) []byte {
		size := uint32(p[sizeIdx])
		if out && size != 4 {
			size, _ = mem.ReadUint32Le(size)
		}
		if size != 4 {
			return fmt.Appendf(b, "value=<%d bytes>", size)
		}
		v, ok := mem.ReadUint32Le(uint32(p[flag]))
		if !ok {
			return append(b, "value=<bad pointer>"...)
		}
		b = append(b, "value="...)
		return strconv.AppendInt(b, int64(int32(v)), 10)
	}
}
