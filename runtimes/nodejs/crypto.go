package main

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"

	"github.com/dop251/goja"
)

// bindCrypto adds random bytes and digests for lib/crypto.js.
func (r *runtime) bindCrypto() {
	vm := r.vm
	r.set("randomBytes", func(c goja.FunctionCall) goja.Value {
		n := c.Argument(0).ToInteger()
		if n < 0 || n > 1<<30 {
			panic(vm.NewTypeError("The value of \"size\" is out of range"))
		}
		b := make([]byte, n)
		rand.Read(b)
		return vm.ToValue(vm.NewArrayBuffer(b))
	})
	r.set("hash", func(c goja.FunctionCall) goja.Value {
		var h hash.Hash
		switch c.Argument(0).String() {
		case "md5":
			h = md5.New()
		case "sha1":
			h = sha1.New()
		case "sha256":
			h = sha256.New()
		case "sha512":
			h = sha512.New()
		default:
			panic(vm.NewTypeError("Digest method not supported"))
		}
		h.Write(r.bytesOf(c.Argument(1)))
		return vm.ToValue(vm.NewArrayBuffer(h.Sum(nil)))
	})
}
