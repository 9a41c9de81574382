package guests

// SlowCompile is a command module (an empty _start) whose compile takes a
// while: funcs functions of 1000 blocks each with a conditional branch
// (about 10 ms per function for wazero's optimizing compiler).
func SlowCompile(funcs int) []byte {
	uleb := func(b []byte, v uint32) []byte {
		for ; v >= 0x80; v >>= 7 {
			b = append(b, byte(v)|0x80)
		}
		return append(b, byte(v))
	}
	section := func(m []byte, id byte, body []byte) []byte {
		return append(uleb(append(m, id), uint32(len(body))), body...)
	}
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = section(m, 1, []byte{1, 0x60, 0, 0}) // type 0: () -> ()
	fs := uleb(nil, uint32(funcs))
	for range funcs {
		fs = append(fs, 0)
	}
	m = section(m, 3, fs)
	m = section(m, 7, append([]byte{1, 6}, append([]byte("_start"), 0, 0)...))
	body := []byte{1, 1, 0x7f} // one i32 local
	for range 1000 {
		// block; local.get 0; br_if 0; local.get 0; i32.const 1; i32.add; local.set 0; end
		body = append(body, 0x02, 0x40, 0x20, 0, 0x0d, 0, 0x20, 0, 0x41, 1, 0x6a, 0x21, 0, 0x0b)
	}
	body = append(body, 0x0b)
	code := uleb(nil, uint32(funcs))
	for range funcs {
		code = append(uleb(code, uint32(len(body))), body...)
	}
	return section(m, 10, code)
}
