// Package lib holds the runtime's Node modules written in JavaScript
// (embedded by the runtime). These tests run on the host: every module
// must compile in goja, and the pure ones (path, util, events,
// querystring) are checked against node's behaviour.
package lib

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dop251/goja"
)

func TestCompile(t *testing.T) {
	files, err := filepath.Glob("*.js")
	if err != nil || len(files) == 0 {
		t.Fatalf("no modules: %v", err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := goja.Compile(f, "(function(exports, require, module, binding) {"+string(src)+"\n})", true); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// load runs the pure modules in a fresh runtime with a require that knows
// only them.
func load(t *testing.T) *goja.Runtime {
	t.Helper()
	vm := goja.New()
	mods := map[string]goja.Value{}
	var require func(string) goja.Value
	require = func(name string) goja.Value {
		if m, ok := mods[name]; ok {
			return m
		}
		src, err := os.ReadFile(name + ".js")
		if err != nil {
			panic(vm.NewGoError(err))
		}
		module := vm.NewObject()
		exports := vm.NewObject()
		module.Set("exports", exports)
		f, err := vm.RunScript(name, "(function(exports, require, module, binding) {"+string(src)+"\n})")
		if err != nil {
			panic(err)
		}
		fn, _ := goja.AssertFunction(f)
		mods[name] = exports
		if _, err := fn(goja.Undefined(), exports, vm.ToValue(require), module, vm.NewObject()); err != nil {
			panic(err)
		}
		mods[name] = module.Get("exports")
		return mods[name]
	}
	vm.Set("require", require)
	vm.Set("process", map[string]any{"cwd": func() string { return "/app" }})
	return vm
}

func TestPureModules(t *testing.T) {
	vm := load(t)
	cases := []struct{ expr, want string }{
		{`require('path').join('/a', 'b', '../c', './d')`, "/a/c/d"},
		{`require('path').resolve('x', '../y')`, "/app/y"},
		{`require('path').resolve('/r', 'x/')`, "/r/x"},
		{`require('path').dirname('/a/b/c.js')`, "/a/b"},
		{`require('path').basename('/a/b/c.js', '.js')`, "c"},
		{`require('path').extname('index.test.js')`, ".js"},
		{`require('path').relative('/a/b/c', '/a/d')`, "../../d"},
		{`require('path').normalize('a//b/../c/')`, "a/c/"},
		{`JSON.stringify(require('path').parse('/home/u/f.txt'))`, `{"root":"/","dir":"/home/u","base":"f.txt","ext":".txt","name":"f"}`},
		{`require('util').format('%s=%d %j', 'a', 42, {x: 1}, 'extra')`, `a=42 {"x":1} extra`},
		{`require('util').format('x', 1, [1, 2, 3], {a: 1, b: 'two'}, null, undefined)`, `x 1 [ 1, 2, 3 ] { a: 1, b: 'two' } null undefined`},
		{`require('util').inspect({a: {b: {c: {d: 1}}}})`, `{ a: { b: { c: [Object] } } }`},
		{`require('util').inspect(new Map([['k', 1]]))`, `Map(1) { 'k' => 1 }`},
		{`require('util').format('100%%')`, `100%`},
		{`(function(){ var E = require('events'); var e = new E(), got = []; e.on('x', function(v){ got.push('on' + v) }); e.once('x', function(v){ got.push('once' + v) }); e.emit('x', 1); e.emit('x', 2); return got.join(',') + ' ' + e.listenerCount('x'); })()`, "on1,once1,on2 1"},
		{`(function(){ try { new (require('events'))().emit('error', new Error('boom')) } catch (e) { return e.message } })()`, "boom"},
		{`JSON.stringify(require('querystring').parse('a=1&b=x+y&a=2'))`, `{"a":["1","2"],"b":"x y"}`},
		{`require('querystring').stringify({a: [1, 2], b: 'x y'})`, `a=1&a=2&b=x%20y`},
	}
	for _, c := range cases {
		v, err := vm.RunString(c.expr)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if got := v.String(); got != c.want {
			t.Errorf("%s = %q, want %q", c.expr, got, c.want)
		}
	}
}

func TestNoForAwait(t *testing.T) {
	// goja has no for-await; a module using it would fail at require time.
	files, _ := filepath.Glob("*.js")
	for _, f := range files {
		src, _ := os.ReadFile(f)
		if strings.Contains(string(src), "for await") {
			t.Errorf("%s uses for await", f)
		}
	}
}
