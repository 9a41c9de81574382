package main

import (
	"io/fs"
	"os"
	"path/filepath"

	"github.com/dop251/goja"
)

// bindFS adds the synchronous file primitives lib/fs.js builds on (the
// callback and promise forms run them and call back on a later task).
// Each throws a Node-style error (err.code ENOENT, EEXIST, ...).
func (r *runtime) bindFS() {
	vm := r.vm
	str := func(c goja.FunctionCall, i int) string { return c.Argument(i).String() }
	r.set("fsReadFile", func(c goja.FunctionCall) goja.Value {
		b, err := os.ReadFile(str(c, 0))
		if err != nil {
			r.throw(err, "open", str(c, 0))
		}
		return r.wrap(b)
	})
	// fsWriteFile(path, data, append, mode)
	r.set("fsWriteFile", func(c goja.FunctionCall) goja.Value {
		flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		if c.Argument(2).ToBoolean() {
			flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
		}
		mode := os.FileMode(0o666)
		if m := c.Argument(3); !goja.IsUndefined(m) {
			mode = os.FileMode(m.ToInteger())
		}
		f, err := os.OpenFile(str(c, 0), flags, mode)
		if err != nil {
			r.throw(err, "open", str(c, 0))
		}
		defer f.Close()
		if _, err := f.Write(r.bytesOf(c.Argument(1))); err != nil {
			r.throw(err, "write", str(c, 0))
		}
		return nil
	})
	r.set("fsExists", func(c goja.FunctionCall) goja.Value {
		_, err := os.Stat(str(c, 0))
		return vm.ToValue(err == nil)
	})
	r.set("fsAccess", func(c goja.FunctionCall) goja.Value {
		if _, err := os.Stat(str(c, 0)); err != nil {
			r.throw(err, "access", str(c, 0))
		}
		return nil
	})
	// fsReaddir(path) returns [[name, type]...], type "file", "dir",
	// "symlink" or "other".
	r.set("fsReaddir", func(c goja.FunctionCall) goja.Value {
		ents, err := os.ReadDir(str(c, 0))
		if err != nil {
			r.throw(err, "scandir", str(c, 0))
		}
		out := make([]any, 0, len(ents))
		for _, e := range ents {
			out = append(out, []any{e.Name(), typeName(e.Type())})
		}
		return vm.ToValue(out)
	})
	// fsMkdir(path, recursive, mode)
	r.set("fsMkdir", func(c goja.FunctionCall) goja.Value {
		mode := os.FileMode(0o777)
		if m := c.Argument(2); !goja.IsUndefined(m) {
			mode = os.FileMode(m.ToInteger())
		}
		var err error
		if c.Argument(1).ToBoolean() {
			err = os.MkdirAll(str(c, 0), mode)
		} else {
			err = os.Mkdir(str(c, 0), mode)
		}
		if err != nil {
			r.throw(err, "mkdir", str(c, 0))
		}
		return nil
	})
	// fsStat(path, lstat) returns {size, mode, type, mtimeMs, ...}, or
	// undefined for a missing file when the third argument is true.
	r.set("fsStat", func(c goja.FunctionCall) goja.Value {
		stat := os.Stat
		if c.Argument(1).ToBoolean() {
			stat = os.Lstat
		}
		fi, err := stat(str(c, 0))
		if err != nil {
			if c.Argument(2).ToBoolean() && os.IsNotExist(err) {
				return goja.Undefined()
			}
			r.throw(err, "stat", str(c, 0))
		}
		ms := float64(fi.ModTime().UnixNano()) / 1e6
		return vm.ToValue(map[string]any{
			"size": fi.Size(), "mode": int64(fi.Mode().Perm()) | modeBits(fi.Mode()),
			"type": typeName(fi.Mode().Type()), "mtimeMs": ms, "atimeMs": ms, "ctimeMs": ms, "birthtimeMs": ms,
		})
	})
	simple := func(name, call string, fn func(string) error) {
		r.set(name, func(c goja.FunctionCall) goja.Value {
			if err := fn(str(c, 0)); err != nil {
				r.throw(err, call, str(c, 0))
			}
			return nil
		})
	}
	simple("fsUnlink", "unlink", os.Remove)
	simple("fsRmdir", "rmdir", os.Remove)
	simple("fsRmRecursive", "rm", os.RemoveAll)
	r.set("fsRename", func(c goja.FunctionCall) goja.Value {
		if err := os.Rename(str(c, 0), str(c, 1)); err != nil {
			r.throw(err, "rename", str(c, 0))
		}
		return nil
	})
	r.set("fsRealpath", func(c goja.FunctionCall) goja.Value {
		p, err := filepath.EvalSymlinks(str(c, 0))
		if err != nil {
			r.throw(err, "realpath", str(c, 0))
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			r.throw(err, "realpath", str(c, 0))
		}
		return vm.ToValue(abs)
	})
}

func typeName(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "file"
	case m&fs.ModeDir != 0:
		return "dir"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	}
	return "other"
}

// modeBits are the S_IF* bits of st_mode.
func modeBits(m fs.FileMode) int64 {
	switch {
	case m.IsRegular():
		return 0o100000
	case m&fs.ModeDir != 0:
		return 0o040000
	case m&fs.ModeSymlink != 0:
		return 0o120000
	}
	return 0
}
