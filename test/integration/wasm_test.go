package integration

// A tiny WebAssembly encoder for the hand-made modules of the CLI tests:
// enough for function imports, one memory, exports, one function body and
// one data segment.

const (
	i32 byte = 0x7f
	i64 byte = 0x7e
)

// funcType is a function signature.
type funcType struct{ params, results []byte }

// wasmImport is a function import.
type wasmImport struct {
	module, name string
	typ          funcType
}

// helloBody is a _start that writes "ran\n" to stdout with fd_write.
var helloBody = []byte{
	0x00,       // no locals
	0x41, 0x01, // i32.const 1 (stdout)
	0x41, 0x00, // i32.const 0 (iovs)
	0x41, 0x01, // i32.const 1 (one iovec)
	0x41, 0x08, // i32.const 8 (nwritten)
	0x10, 0x00, // call fd_write
	0x1a, // drop
	0x0b, // end
}

// trapBody is a _start that traps at once.
var trapBody = []byte{0x00, 0x00 /* unreachable */, 0x0b}

// helloModule returns a command module whose _start writes "ran\n" to
// stdout with fd_write, importing fd_write first and then extra.
func helloModule(extra ...wasmImport) []byte {
	return commandModule(helloBody, extra...)
}

// commandModule returns a module importing fd_write and then extra, with
// one page of memory holding an iovec for "ran\n" at 0, and exporting
// memory and _start with body.
func commandModule(body []byte, extra ...wasmImport) []byte {
	imports := append([]wasmImport{{"wasi_snapshot_preview1", "fd_write", funcType{[]byte{i32, i32, i32, i32}, []byte{i32}}}}, extra...)
	var types, importSec []byte
	types = uleb(types, uint32(len(imports)+1))
	importSec = uleb(importSec, uint32(len(imports)))
	for i, imp := range imports {
		types = appendType(types, imp.typ)
		importSec = name(importSec, imp.module)
		importSec = name(importSec, imp.name)
		importSec = append(importSec, 0x00) // func
		importSec = uleb(importSec, uint32(i))
	}
	startType := uint32(len(imports))
	types = appendType(types, funcType{})
	startIdx := uint32(len(imports))

	funcs := uleb(uleb(nil, 1), startType)
	memory := []byte{1, 0x00, 1} // one memory, min 1 page
	var exports []byte
	exports = uleb(exports, 2)
	exports = append(name(exports, "_start"), 0x00)
	exports = uleb(exports, startIdx)
	exports = append(name(exports, "memory"), 0x02, 0)
	code := uleb(uleb(nil, 1), uint32(len(body)))
	code = append(code, body...)
	payload := []byte{16, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'r', 'a', 'n', '\n'}
	data := []byte{1, 0x00, 0x41, 0x00, 0x0b} // one active segment at i32.const 0
	data = uleb(data, uint32(len(payload)))
	data = append(data, payload...)

	m := []byte("\x00asm\x01\x00\x00\x00")
	m = section(m, 1, types)
	m = section(m, 2, importSec)
	m = section(m, 3, funcs)
	m = section(m, 5, memory)
	m = section(m, 7, exports)
	m = section(m, 10, code)
	m = section(m, 11, data)
	return m
}

func appendType(b []byte, t funcType) []byte {
	b = append(b, 0x60)
	b = uleb(b, uint32(len(t.params)))
	b = append(b, t.params...)
	b = uleb(b, uint32(len(t.results)))
	return append(b, t.results...)
}

func section(b []byte, id byte, content []byte) []byte {
	b = append(b, id)
	b = uleb(b, uint32(len(content)))
	return append(b, content...)
}

func name(b []byte, s string) []byte {
	b = uleb(b, uint32(len(s)))
	return append(b, s...)
}

func uleb(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}
